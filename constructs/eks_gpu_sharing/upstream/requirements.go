package main

import (
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/scheduling"
)

type schedulingReqs = scheduling.Requirements

// schedulingRequirements are a NodePool's template requirements and labels as the scheduler
// reads them (scheduling.NewNodeSelectorRequirementsWithMinValues plus the template labels).
func schedulingRequirements(np *karpv1.NodePool) scheduling.Requirements {
	requirements := scheduling.NewNodeSelectorRequirementsWithMinValues(np.Spec.Template.Spec.Requirements...)
	requirements.Add(scheduling.NewLabelRequirements(np.Spec.Template.Labels).Values()...)
	return requirements
}
