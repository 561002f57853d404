package main

import (
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/karpenter/pkg/controllers/provisioning/scheduling"
	corescheduling "sigs.k8s.io/karpenter/pkg/scheduling"
	"sigs.k8s.io/karpenter/pkg/utils/daemonset"
)

// daemonSetFit lists, per NodePool, the DaemonSets whose pods Karpenter counts on that pool's
// new nodes (nodePoolView.daemons).
func daemonSetFit(views []nodePoolView) map[string][]string {
	out := map[string][]string{}
	for _, view := range views {
		fits := []string{}
		for _, daemon := range view.daemons {
			fits = append(fits, daemon.set.Namespace+"/"+daemon.set.Name)
		}
		sort.Strings(fits)
		out[view.pool.Name] = fits
	}
	return out
}

// fittingDaemons are the DaemonSets whose pods Karpenter counts on template's new nodes. It
// applies the checks of the scheduler's isDaemonPodCompatible (unexported) with Karpenter's own
// pieces: the pod made from the DaemonSet as the provisioner makes it
// (daemonset.PodForDaemonSet, with the template's required node affinity), the pool's taints
// (PreferNoSchedule ignored, as for daemon pods) and the NodeClaim template's requirements
// against the pod's strict requirements, trying each required node-affinity term in turn (terms
// are ORed; Karpenter relaxes them one by one).
func fittingDaemons(template *scheduling.NodeClaimTemplate, daemonSets []appsv1.DaemonSet) []fittingDaemon {
	var fits []fittingDaemon
	for i := range daemonSets {
		if pod := daemonPod(&daemonSets[i]); daemonPodFits(template, pod) {
			fits = append(fits, fittingDaemon{set: &daemonSets[i], pod: pod})
		}
	}
	return fits
}

type fittingDaemon struct {
	set *appsv1.DaemonSet
	pod *corev1.Pod
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
