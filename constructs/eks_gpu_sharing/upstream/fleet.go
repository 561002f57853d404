package main

import (
	"context"
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/cloudprovider"
	"sigs.k8s.io/karpenter/pkg/controllers/provisioning/scheduling"
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

func fleetInputsFor(ctx context.Context, kubeClient client.Client, cloudProvider cloudprovider.CloudProvider, groups []podGroup) (*fleetInputs, error) {
	pools := &karpv1.NodePoolList{}
	if err := kubeClient.List(ctx, pools); err != nil {
		return nil, err
	}
	daemonSets := &appsv1.DaemonSetList{}
	if err := kubeClient.List(ctx, daemonSets); err != nil {
		return nil, err
	}
	out := &fleetInputs{NodePools: map[string]fleetNodePool{}, Groups: []fleetGroup{}}
	templates := map[string]*scheduling.NodeClaimTemplate{}
	typesOf := map[string][]*cloudprovider.InstanceType{}
	for i := range pools.Items {
		np := &pools.Items[i]
		template := scheduling.NewNodeClaimTemplate(np)
		templates[np.Name] = template
		var daemons []*corev1.Pod
		for j := range daemonSets.Items {
			if pod := daemonPod(&daemonSets.Items[j]); daemonPodFits(template, pod) {
				daemons = append(daemons, pod)
			}
		}
		its, err := cloudProvider.GetInstanceTypes(ctx, np)
		if err != nil {
			return nil, err
		}
		requirements := schedulingRequirements(np)
		entry := fleetNodePool{
			Limits:            milli(corev1.ResourceList(np.Spec.Limits)),
			DaemonSetOverhead: milli(resources.RequestsForPods(daemons...)),
			InstanceTypes:     []fleetType{},
		}
		for _, it := range its {
			if requirements.Intersects(it.Requirements) != nil {
				continue
			}
			typesOf[np.Name] = append(typesOf[np.Name], it)
			var price *float64
			if cheapest := it.Offerings.Available().Compatible(requirements).Cheapest(); cheapest != nil {
				p := cheapest.Price
				price = &p
			}
			entry.InstanceTypes = append(entry.InstanceTypes, fleetType{Name: it.Name, Allocatable: milli(it.Allocatable()), Capacity: milli(it.Capacity), PricePerHour: price})
		}
		sort.Slice(entry.InstanceTypes, func(a, b int) bool { return entry.InstanceTypes[a].Name < entry.InstanceTypes[b].Name })
		out.NodePools[np.Name] = entry
	}
	for _, group := range groups {
		pod, err := groupPod(group, 0)
		if err != nil {
			continue // pendingPods reported it
		}
		entry := fleetGroup{Namespace: group.Namespace, Name: group.Name, Requests: milli(resources.RequestsForPods(pod)), Admitted: map[string][]string{}}
		strict := corescheduling.NewStrictPodRequirements(pod)
		for name, template := range templates {
			if corescheduling.Taints(template.Spec.Taints).ToleratesPod(pod) != nil ||
				!template.Requirements.IsCompatible(strict, corescheduling.AllowUndefinedWellKnownLabels) {
				continue
			}
			combined := corescheduling.NewRequirements(template.Requirements.Values()...)
			combined.Add(strict.Values()...)
			admitted := []string{}
			for _, it := range typesOf[name] {
				if it.Requirements.Intersects(combined) == nil && len(it.Offerings.Available().Compatible(combined)) > 0 {
					admitted = append(admitted, it.Name)
				}
			}
			sort.Strings(admitted)
			entry.Admitted[name] = admitted
		}
		out.Groups = append(out.Groups, entry)
	}
	return out, nil
}

func milli(list corev1.ResourceList) map[string]int64 {
	out := map[string]int64{}
	for name, quantity := range list {
		out[string(name)] = quantity.MilliValue()
	}
	return out
}
