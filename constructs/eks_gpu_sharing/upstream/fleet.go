package main

import (
	corev1 "k8s.io/api/core/v1"
	corescheduling "sigs.k8s.io/karpenter/pkg/scheduling"
	"sigs.k8s.io/karpenter/pkg/utils/resources"
)

// fleetNodePool is what the cheapest-fleet optimum needs of one NodePool, as Karpenter computes
// it: its limits, the requests of the DaemonSet pods it counts on each new node (the scheduler's
// daemon overhead, resources.RequestsForPods), and each admitted instance type's allocatable
// (capacity less kube-reserved, system-reserved, eviction threshold and VM overhead) with its
// cheapest available offering. Quantities are in milli-units (cpu 1 = 1000).
type fleetNodePool struct {
	Limits            map[string]int64 `json:"limits"`
	DaemonSetOverhead map[string]int64 `json:"daemonSetOverhead"`
	InstanceTypes     []fleetType      `json:"instanceTypes"`
}

type fleetType struct {
	Name         string           `json:"name"`
	Allocatable  map[string]int64 `json:"allocatable"`
	Capacity     map[string]int64 `json:"capacity"`
	PricePerHour *float64         `json:"pricePerHour"`
}

// fleetGroup is one pending pod group: a pod's requests as the scheduler sums them
// (resources.RequestsForPods, with pods: 1) and, per NodePool, the instance types whose
// requirements, offerings and taints admit the pod's strict requirements (preferences dropped,
// as Karpenter's relaxation ends).
type fleetGroup struct {
	Namespace string              `json:"namespace"`
	Name      string              `json:"name"`
	Requests  map[string]int64    `json:"requests"`
	Admitted  map[string][]string `json:"admitted"`
}

type fleetInputs struct {
	NodePools map[string]fleetNodePool `json:"nodePools"`
	Groups    []fleetGroup             `json:"groups"`
}

func fleetInputsFor(views []nodePoolView, groups []podGroup) *fleetInputs {
	out := &fleetInputs{NodePools: map[string]fleetNodePool{}, Groups: []fleetGroup{}}
	for _, view := range views {
		daemons := make([]*corev1.Pod, 0, len(view.daemons))
		for _, daemon := range view.daemons {
			daemons = append(daemons, daemon.pod)
		}
		entry := fleetNodePool{
			Limits:            milli(corev1.ResourceList(view.pool.Spec.Limits)),
			DaemonSetOverhead: milli(resources.RequestsForPods(daemons...)),
			InstanceTypes:     []fleetType{},
		}
		for _, admitted := range view.types {
			it := admitted.it
			entry.InstanceTypes = append(entry.InstanceTypes, fleetType{Name: it.Name, Allocatable: milli(it.Allocatable()), Capacity: milli(it.Capacity), PricePerHour: admitted.price})
		}
		out.NodePools[view.pool.Name] = entry
	}
	for _, group := range groups {
		pod, err := groupPod(group, 0)
		if err != nil {
			continue // pendingPods reported it
		}
		entry := fleetGroup{Namespace: group.Namespace, Name: group.Name, Requests: milli(resources.RequestsForPods(pod)), Admitted: map[string][]string{}}
		strict := corescheduling.NewStrictPodRequirements(pod)
		for _, view := range views {
			template := view.template
			if corescheduling.Taints(template.Spec.Taints).ToleratesPod(pod) != nil ||
				!template.Requirements.IsCompatible(strict, corescheduling.AllowUndefinedWellKnownLabels) {
				continue
			}
			combined := corescheduling.NewRequirements(template.Requirements.Values()...)
			combined.Add(strict.Values()...)
			admitted := []string{}
			for _, candidate := range view.types {
				it := candidate.it
				if it.Requirements.Intersects(combined) == nil && len(it.Offerings.Available().Compatible(combined)) > 0 {
					admitted = append(admitted, it.Name)
				}
			}
			entry.Admitted[view.pool.Name] = admitted
		}
		out.Groups = append(out.Groups, entry)
	}
	return out
}

func milli(list corev1.ResourceList) map[string]int64 {
	out := map[string]int64{}
	for name, quantity := range list {
		out[string(name)] = quantity.MilliValue()
	}
	return out
}
