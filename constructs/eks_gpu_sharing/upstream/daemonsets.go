package main

import (
	"context"
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/controllers/provisioning/scheduling"
	corescheduling "sigs.k8s.io/karpenter/pkg/scheduling"
	"sigs.k8s.io/karpenter/pkg/utils/daemonset"
)

// daemonSetFit lists, per NodePool, the DaemonSets whose pods Karpenter counts on that pool's
// new nodes. It applies the checks of the scheduler's isDaemonPodCompatible (unexported) with
// Karpenter's own pieces: the pod made from the DaemonSet as the provisioner makes it
// (daemonset.PodForDaemonSet, with the template's required node affinity), the pool's taints
// (PreferNoSchedule ignored, as for daemon pods) and the NodeClaim template's requirements
// against the pod's strict requirements, trying each required node-affinity term in turn (terms
// are ORed; Karpenter relaxes them one by one).
func daemonSetFit(ctx context.Context, kubeClient client.Client) (map[string][]string, error) {
	daemonSets := &appsv1.DaemonSetList{}
	if err := kubeClient.List(ctx, daemonSets); err != nil {
		return nil, err
	}
	pools := &karpv1.NodePoolList{}
	if err := kubeClient.List(ctx, pools); err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for i := range pools.Items {
		template := scheduling.NewNodeClaimTemplate(&pools.Items[i])
		fits := []string{}
		for j := range daemonSets.Items {
			ds := &daemonSets.Items[j]
			if daemonPodFits(template, daemonPod(ds)) {
				fits = append(fits, ds.Namespace+"/"+ds.Name)
			}
		}
		sort.Strings(fits)
		out[pools.Items[i].Name] = fits
	}
	return out, nil
}

func daemonPod(ds *appsv1.DaemonSet) *corev1.Pod {
	pod := daemonset.PodForDaemonSet(ds)
	if affinity := ds.Spec.Template.Spec.Affinity; affinity != nil && affinity.NodeAffinity != nil &&
		affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil {
		if pod.Spec.Affinity == nil {
			pod.Spec.Affinity = &corev1.Affinity{}
		}
		if pod.Spec.Affinity.NodeAffinity == nil {
			pod.Spec.Affinity.NodeAffinity = &corev1.NodeAffinity{}
		}
		pod.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution = affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution
	}
	return pod
}

func daemonPodFits(template *scheduling.NodeClaimTemplate, pod *corev1.Pod) bool {
	var taints []corev1.Taint
	for _, taint := range template.Spec.Taints {
		if taint.Effect != corev1.TaintEffectPreferNoSchedule {
			taints = append(taints, taint)
		}
	}
	if corescheduling.Taints(taints).ToleratesPod(pod) != nil {
		return false
	}
	for _, candidate := range affinityTermVariants(pod) {
		if template.Requirements.IsCompatible(corescheduling.NewStrictPodRequirements(candidate), corescheduling.AllowUndefinedWellKnownLabels) {
			return true
		}
	}
	return false
}

// affinityTermVariants returns the pod once per required node-affinity term (or as it is).
func affinityTermVariants(pod *corev1.Pod) []*corev1.Pod {
	affinity := pod.Spec.Affinity
	if affinity == nil || affinity.NodeAffinity == nil || affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return []*corev1.Pod{pod}
	}
	terms := affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	variants := make([]*corev1.Pod, 0, len(terms))
	for _, term := range terms {
		variant := pod.DeepCopy()
		variant.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms = []corev1.NodeSelectorTerm{term}
		variants = append(variants, variant)
	}
	return variants
}
