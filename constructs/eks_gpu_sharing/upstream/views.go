package main

import (
	"context"
	"fmt"
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/cloudprovider"
	"sigs.k8s.io/karpenter/pkg/controllers/provisioning/scheduling"
)

// nodePoolView is what the scheduler works with for one NodePool, read once per round and shared
// by the answer's instance types, DaemonSet fit and cheapest-fleet inputs: its NodeClaim
// template, the (overlay-decorated) instance types it admits with their cheapest available
// offering, and the DaemonSets whose pods it counts on each new node.
type nodePoolView struct {
	pool     *karpv1.NodePool
	template *scheduling.NodeClaimTemplate
	types    []admittedType
	daemons  []fittingDaemon
}

type admittedType struct {
	it *cloudprovider.InstanceType
	// price of the cheapest available offering the NodePool's requirements allow, or nil.
	price *float64
}

// viewNodePools reads every NodePool's view, NodePools and instance types sorted by name.
func viewNodePools(ctx context.Context, kubeClient client.Client, cloudProvider cloudprovider.CloudProvider) ([]nodePoolView, error) {
	pools := &karpv1.NodePoolList{}
	if err := kubeClient.List(ctx, pools); err != nil {
		return nil, err
	}
	daemonSets := &appsv1.DaemonSetList{}
	if err := kubeClient.List(ctx, daemonSets); err != nil {
		return nil, err
	}
	sort.Slice(pools.Items, func(a, b int) bool { return pools.Items[a].Name < pools.Items[b].Name })
	views := make([]nodePoolView, 0, len(pools.Items))
	for i := range pools.Items {
		np := &pools.Items[i]
		its, err := cloudProvider.GetInstanceTypes(ctx, np)
		if err != nil {
			return nil, fmt.Errorf("instance types of NodePool %s: %w", np.Name, err)
		}
		requirements := schedulingRequirements(np)
		admitted := []admittedType{}
		for _, it := range its {
			if requirements.Intersects(it.Requirements) != nil {
				continue
			}
			var price *float64
			if cheapest := it.Offerings.Available().Compatible(requirements).Cheapest(); cheapest != nil {
				p := cheapest.Price
				price = &p
			}
			admitted = append(admitted, admittedType{it: it, price: price})
		}
		sort.Slice(admitted, func(a, b int) bool { return admitted[a].it.Name < admitted[b].it.Name })
		template := scheduling.NewNodeClaimTemplate(np)
		views = append(views, nodePoolView{pool: np, template: template, types: admitted, daemons: fittingDaemons(template, daemonSets.Items)})
	}
	return views, nil
}
