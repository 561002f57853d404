package main

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/controllers/state"
)

// clusterState is what already runs in the user's cluster (from a `kubectl get -o yaml` dump):
// its nodes, the NodeClaims Karpenter tracks them by, and the pods bound to them (DaemonSet
// pods included), which the provisioner schedules against before it creates NodeClaims.
type clusterState struct {
	Nodes      []map[string]any `json:"nodes"`
	NodeClaims []map[string]any `json:"nodeClaims"`
	Pods       []map[string]any `json:"pods"`
}

// inputError names a user object the simulator could not decode as its Kubernetes type.
type inputError struct {
	Object string `json:"object"`
	Error  string `json:"error"`
}

// existingNodeUse is an existing node the round placed pending pods on.
type existingNodeUse struct {
	Name         string   `json:"name"`
	NodePool     string   `json:"nodePool"`
	InstanceType string   `json:"instanceType"`
	Pods         []string `json:"pods"`
}

// decodedCluster holds the typed objects of a clusterState.
type decodedCluster struct {
	nodes      []*corev1.Node
	nodeClaims []*karpv1.NodeClaim
	pods       []*corev1.Pod
}

func (d *decodedCluster) objects() []client.Object {
	var out []client.Object
	for _, n := range d.nodes {
		out = append(out, n)
	}
	for _, nc := range d.nodeClaims {
		out = append(out, nc)
	}
	for _, p := range d.pods {
		out = append(out, p)
	}
	return out
}

func decodeCluster(in clusterState) (*decodedCluster, []inputError) {
	var errs []inputError
	out := &decodedCluster{
		nodes:      decodeEach(in.Nodes, "Node", func() *corev1.Node { return &corev1.Node{} }, &errs),
		nodeClaims: decodeEach(in.NodeClaims, "NodeClaim", func() *karpv1.NodeClaim { return &karpv1.NodeClaim{} }, &errs),
		pods:       decodeEach(in.Pods, "Pod", func() *corev1.Pod { return &corev1.Pod{} }, &errs),
	}
	for _, pod := range out.pods {
		// A dump from the API server has its defaults; a hand-written one may not.
		defaultPodRequests(pod)
	}
	return out, errs
}

// decodeEach decodes every object of one kind; one that does not decode is an input error
// naming it, and is left out.
func decodeEach[T any](raws []map[string]any, kind string, newObject func() T, errs *[]inputError) []T {
	var out []T
	for _, raw := range raws {
		object := newObject()
		if err := fromUnstructured(raw, object); err != nil {
			*errs = append(*errs, inputError{Object: kind + " " + nameOf(raw), Error: err.Error()})
			continue
		}
		out = append(out, object)
	}
	return out
}

// track tells Karpenter's cluster state about the existing objects, as its informer
// controllers (nodeclaim, node, pod) do in the running controller: NodeClaims first, so a node
// is known as Karpenter-managed, then nodes, then the pods bound to them.
func (d *decodedCluster) track(ctx context.Context, cluster *state.Cluster) error {
	for _, nodeClaim := range d.nodeClaims {
		cluster.UpdateNodeClaim(nodeClaim)
	}
	for _, node := range d.nodes {
		if err := cluster.UpdateNode(ctx, node.DeepCopy()); err != nil {
			return fmt.Errorf("node %s: %w", node.Name, err)
		}
	}
	for _, pod := range d.pods {
		if err := cluster.UpdatePod(ctx, pod); err != nil {
			return fmt.Errorf("pod %s/%s: %w", pod.Namespace, pod.Name, err)
		}
	}
	return nil
}

func nameOf(raw map[string]any) string {
	metadata, _ := raw["metadata"].(map[string]any)
	name, _ := metadata["name"].(string)
	if namespace, _ := metadata["namespace"].(string); namespace != "" {
		return namespace + "/" + name
	}
	return name
}
