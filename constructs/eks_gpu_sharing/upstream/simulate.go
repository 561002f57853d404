package main

import (
	"context"
	"fmt"
	"sort"
	"time"

	v1 "github.com/aws/karpenter-provider-aws/pkg/apis/v1"
	awscloudprovider "github.com/aws/karpenter-provider-aws/pkg/cloudprovider"
	"github.com/awslabs/operatorpkg/status"
	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/apis/v1alpha1"
	"sigs.k8s.io/karpenter/pkg/cloudprovider"
	"sigs.k8s.io/karpenter/pkg/cloudprovider/metrics"
	"sigs.k8s.io/karpenter/pkg/cloudprovider/overlay"
	"sigs.k8s.io/karpenter/pkg/controllers/dynamicresources/deviceallocation"
	"sigs.k8s.io/karpenter/pkg/controllers/nodeoverlay"
	"sigs.k8s.io/karpenter/pkg/controllers/nodepool/readiness"
	"sigs.k8s.io/karpenter/pkg/controllers/nodepool/validation"
	"sigs.k8s.io/karpenter/pkg/controllers/provisioning"
	"sigs.k8s.io/karpenter/pkg/controllers/state"
	"sigs.k8s.io/karpenter/pkg/events"
	"sigs.k8s.io/karpenter/pkg/state/virtualpods"
)

type podGroup struct {
	Name      string         `json:"name"`
	Namespace string         `json:"namespace"`
	Count     int            `json:"count"`
	Template  map[string]any `json:"template"`
}

type simulateRequest struct {
	Command       string            `json:"command"`
	Catalog       catalog           `json:"catalog"`
	Objects       []map[string]any  `json:"objects"`
	DaemonSets    []map[string]any  `json:"daemonSets"`
	ControllerEnv map[string]string `json:"controllerEnv"`
	Pods          []podGroup        `json:"pods"`
	// Cluster is what already runs: nodes with free capacity the scheduler uses first.
	Cluster clusterState `json:"cluster"`
	// SolveDeadlineSeconds, when set, ends the scheduling round earlier than the controller's
	// own one-minute deadline (Solve inherits the earlier deadline): how the tests reach it.
	SolveDeadlineSeconds float64 `json:"solveDeadlineSeconds"`
	// Region prices the catalog's types with Karpenter's static on-demand table for it
	// (default us-east-1, the catalog's).
	Region string `json:"region"`
	// ResourceClaimTemplates the pods' spec.resourceClaims name, and the DeviceClasses their
	// requests name (resource.k8s.io/v1): what DRA pods need to be scheduled.
	ResourceClaimTemplates []map[string]any `json:"resourceClaimTemplates"`
	DeviceClasses          []map[string]any `json:"deviceClasses"`
}

type simulatedNodeClaim struct {
	NodePool      string            `json:"nodePool"`
	Pods          []string          `json:"pods"`
	InstanceTypes []string          `json:"instanceTypes"`
	Launch        *launchChoice     `json:"launch"`
	Requests      map[string]string `json:"requests"`
}

// launchChoice is the offering EC2 Fleet's lowest-price strategy would take among the
// NodeClaim's instance types (spot first where the NodeClaim allows it, as Karpenter asks).
type launchChoice struct {
	InstanceType string            `json:"instanceType"`
	CapacityType string            `json:"capacityType"`
	Zone         string            `json:"zone"`
	PricePerHour float64           `json:"pricePerHour"`
	Capacity     map[string]string `json:"capacity"`
	Allocatable  map[string]string `json:"allocatable"`
}

type podError struct {
	Pod   string `json:"pod"`
	Error string `json:"error"`
}

type objectStatus struct {
	Kind       string            `json:"kind"`
	Name       string            `json:"name"`
	Conditions []statusCondition `json:"conditions"`
}

type statusCondition struct {
	Type    string `json:"type"`
	Status  string `json:"status"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

func conditionsOf(conditions []status.Condition) []statusCondition {
	out := make([]statusCondition, 0, len(conditions))
	for _, c := range conditions {
		out = append(out, statusCondition{Type: c.Type, Status: string(c.Status), Reason: c.Reason, Message: c.Message})
	}
	return out
}

type simulateResponse struct {
	InvalidObjects []validationResult   `json:"invalidObjects"`
	FeatureGates   map[string]bool      `json:"featureGates"`
	NodeClaims     []simulatedNodeClaim `json:"nodeClaims"`
	PodErrors      []podError           `json:"podErrors"`
	Statuses       []objectStatus       `json:"statuses"`
	DaemonSetFit   map[string][]string  `json:"daemonSetFit"`
	// Fleet is what the scheduler sees of each NodePool (its types with capacity, allocatable
	// and price; its DaemonSet overhead; its limits) and of each pod group, as Karpenter computes
	// it: the cheapest-fleet optimum and the capacities per pool are read from it.
	Fleet           *fleetInputs `json:"fleet"`
	ScheduleSeconds float64      `json:"scheduleSeconds"`
	// InputErrors names user objects (pod templates, DaemonSets, cluster objects) that do not
	// decode as their Kubernetes type; nothing is simulated when there are any.
	InputErrors []inputError `json:"inputErrors"`
	// ExistingNodes are the cluster's nodes the round placed pending pods on.
	ExistingNodes []existingNodeUse `json:"existingNodes"`
	// PendingPods is how many pods the round was given; every one must come back placed or
	// with an error, unless DeadlineExceeded says Solve stopped before trying them.
	PendingPods      int               `json:"pendingPods"`
	DeadlineExceeded bool              `json:"deadlineExceeded"`
	Logs             []logEntry        `json:"logs"`
	LogsDropped      int               `json:"logsDropped"`
	Catalog          map[string]string `json:"catalog"`
	Modules          map[string]string `json:"modules"`
}

func runSimulate(raw []byte) (any, error) {
	var req simulateRequest
	if err := decode(raw, &req); err != nil {
		return nil, err
	}
	return simulate(req)
}

// simulate runs one provisioning round of Karpenter on the given objects: the API server's
// create path first (an object it would refuse is reported and nothing is simulated), then the
// NodePool validation and readiness controllers, the NodeOverlay controller (when the gate is
// on), and the provisioner's Schedule on the pending pods, with the AWS provider's instance types.
func simulate(req simulateRequest) (*simulateResponse, error) {
	ctx, options, err := controllerContext(req.ControllerEnv)
	if err != nil {
		return nil, err
	}
	// Keep what Karpenter logs (warnings, errors, the scheduler's timeout) for the caller.
	recorder := newLogRecorder()
	ctx = ctrllog.IntoContext(ctx, logr.New(recorder))
	gates := options.FeatureGates
	resp := &simulateResponse{
		InvalidObjects: []validationResult{},
		FeatureGates: map[string]bool{
			"NodeOverlay":      gates.NodeOverlay,
			"ReservedCapacity": gates.ReservedCapacity,
			"StaticCapacity":   gates.StaticCapacity,
			"CapacityBuffer":   gates.CapacityBuffer,
			// Karpenter models pods' ResourceClaims only when this is false (settings.enableDRA
			// or an AWS DRA driver gate turns it so).
			"IgnoreDRARequests": options.IgnoreDRARequests,
		},
		NodeClaims:    []simulatedNodeClaim{},
		PodErrors:     []podError{},
		Statuses:      []objectStatus{},
		DaemonSetFit:  map[string][]string{},
		Catalog:       req.Catalog.Source,
		Modules:       moduleVersions(),
		Logs:          []logEntry{},
		InputErrors:   []inputError{},
		ExistingNodes: []existingNodeUse{},
	}
	region := req.Region
	if region == "" {
		region = defaultRegion
	}
	if !staticPricesFor(req.Catalog, region) {
		resp.InputErrors = append(resp.InputErrors, inputError{Object: "region " + cut(region, 40), Error: "Karpenter's static on-demand price table has no prices of its own for this region (it falls back to us-east-1's; the controller reads the AWS Pricing API at run time there, which the simulator does not call)"})
		return resp, nil
	}
	objects, invalid, err := admitKarpenterObjects(req.Objects, region)
	if err != nil {
		return nil, err
	}
	if len(invalid) > 0 {
		resp.InvalidObjects = invalid
		return resp, nil
	}
	for _, ds := range req.DaemonSets {
		daemonSet := &appsv1.DaemonSet{}
		if err := fromUnstructured(ds, daemonSet); err != nil {
			resp.InputErrors = append(resp.InputErrors, inputError{Object: "DaemonSet " + nameOf(ds), Error: err.Error()})
			continue
		}
		objects = append(objects, daemonSet)
	}
	pods, podErrs := pendingPods(req.Pods)
	resp.InputErrors = append(resp.InputErrors, podErrs...)
	dra, draErrs := decodeDRA(req.ResourceClaimTemplates, req.DeviceClasses)
	resp.InputErrors = append(resp.InputErrors, draErrs...)
	claims, claimErrs := claimsForPods(pods, dra)
	resp.InputErrors = append(resp.InputErrors, claimErrs...)
	existing, clusterErrs := decodeCluster(req.Cluster)
	resp.InputErrors = append(resp.InputErrors, clusterErrs...)
	if len(resp.InputErrors) > 0 {
		return resp, nil
	}
	for _, pod := range pods {
		objects = append(objects, pod)
	}
	objects = append(objects, claims...)
	for _, class := range dra.classes {
		objects = append(objects, class)
	}
	objects = append(objects, existing.objects()...)
	resp.PendingPods = len(pods)

	kubeClient := fake.NewClientBuilder().
		WithScheme(scheme.Scheme).
		WithObjects(objects...).
		WithStatusSubresource(&karpv1.NodePool{}, &karpv1.NodeClaim{}, &v1alpha1.NodeOverlay{}, &v1.EC2NodeClass{}).
		WithIndex(&corev1.Pod{}, "spec.nodeName", func(o client.Object) []string {
			return []string{o.(*corev1.Pod).Spec.NodeName}
		}).
		Build()

	clk := clock.RealClock{}
	itProvider, err := newInstanceTypeProvider(ctx, req.Catalog, kubeClient, region)
	if err != nil {
		return nil, err
	}
	store := nodeoverlay.NewInstanceTypeStore()
	eventRecorder := events.NewRecorder(&record.FakeRecorder{})
	// The wiring of the provider's cmd/controller/main.go: the overlay decorator wraps the
	// metrics-decorated AWS cloud provider; the NodeOverlay controller sees the undecorated one.
	awsCloudProvider := awscloudprovider.New(itProvider, nil, eventRecorder, kubeClient, nil, nil, nil, nil, store, nil)
	undecorated := metrics.Decorate(awsCloudProvider)
	cloudProvider := overlay.Decorate(undecorated, kubeClient, store)
	cluster := state.NewCluster(clk, kubeClient, cloudProvider)
	if err := existing.track(ctx, cluster); err != nil {
		return nil, err
	}

	if err := reconcileNodePools(ctx, clk, kubeClient, cloudProvider); err != nil {
		return nil, err
	}
	if gates.NodeOverlay {
		controller := nodeoverlay.NewController(clk, kubeClient, undecorated, store, cluster)
		if _, err := controller.Reconcile(ctx, reconcile.Request{}); err != nil {
			return nil, fmt.Errorf("NodeOverlay controller: %w", err)
		}
	}
	if resp.Statuses, err = collectStatuses(ctx, kubeClient); err != nil {
		return nil, err
	}
	views, err := viewNodePools(ctx, kubeClient, cloudProvider)
	if err != nil {
		return nil, err
	}
	resp.DaemonSetFit = daemonSetFit(views)
	resp.Fleet = fleetInputsFor(views, req.Pods)

	// The device-allocation controller tracks devices already allocated to ResourceClaims; the
	// scheduler waits until it has read them once (Hydrate, which its first Reconcile does in
	// the controller manager).
	allocations := deviceallocation.NewController(kubeClient)
	allocations.Hydrate(ctx)
	provisioner := provisioning.NewProvisioner(kubeClient, eventRecorder, cloudProvider, cluster, clk,
		allocations, virtualpods.NewVirtualPodCache(kubeClient))
	scheduleCtx := ctx
	if req.SolveDeadlineSeconds > 0 {
		var cancel context.CancelFunc
		scheduleCtx, cancel = context.WithTimeout(ctx, time.Duration(req.SolveDeadlineSeconds*float64(time.Second)))
		defer cancel()
	}
	start := time.Now()
	results, err := provisioner.Schedule(scheduleCtx)
	resp.ScheduleSeconds = time.Since(start).Seconds()
	resp.Logs, resp.LogsDropped, resp.DeadlineExceeded = recorder.snapshot()
	if err != nil {
		return nil, fmt.Errorf("scheduling: %w", err)
	}
	for _, nodeClaim := range results.NewNodeClaims {
		resp.NodeClaims = append(resp.NodeClaims, describeNodeClaim(nodeClaim.NodePoolName, nodeClaim.Pods, nodeClaim.InstanceTypeOptions, nodeClaim.Requirements, nodeClaim.Spec.Resources.Requests))
	}
	for _, node := range results.ExistingNodes {
		if len(node.Pods) == 0 {
			continue
		}
		use := existingNodeUse{Name: node.Name(), NodePool: node.Labels()[karpv1.NodePoolLabelKey], InstanceType: node.Labels()[corev1.LabelInstanceTypeStable]}
		for _, pod := range node.Pods {
			use.Pods = append(use.Pods, pod.Namespace+"/"+pod.Name)
		}
		sort.Strings(use.Pods)
		resp.ExistingNodes = append(resp.ExistingNodes, use)
	}
	sort.Slice(resp.ExistingNodes, func(i, j int) bool { return resp.ExistingNodes[i].Name < resp.ExistingNodes[j].Name })
	sort.SliceStable(resp.NodeClaims, func(i, j int) bool { return resp.NodeClaims[i].NodePool < resp.NodeClaims[j].NodePool })
	for pod, podErr := range results.PodErrors {
		resp.PodErrors = append(resp.PodErrors, podError{Pod: pod.Namespace + "/" + pod.Name, Error: podErr.Error()})
	}
	sort.Slice(resp.PodErrors, func(i, j int) bool { return resp.PodErrors[i].Pod < resp.PodErrors[j].Pod })
	return resp, nil
}

// admitKarpenterObjects runs every object through the API server's create path and decodes
// what it would store into Karpenter's typed objects.
func admitKarpenterObjects(raw []map[string]any, region string) ([]client.Object, []validationResult, error) {
	admitters, err := karpenterAdmitters()
	if err != nil {
		return nil, nil, err
	}
	var objects []client.Object
	var invalid []validationResult
	for _, obj := range raw {
		result := validateObject(admitters, obj)
		if len(result.Errors) > 0 {
			result.Stored = nil
			invalid = append(invalid, result)
			continue
		}
		var typed client.Object
		switch result.Kind {
		case "NodePool":
			typed = &karpv1.NodePool{}
		case "EC2NodeClass":
			typed = &v1.EC2NodeClass{}
		case "NodeOverlay":
			typed = &v1alpha1.NodeOverlay{}
		default:
			return nil, nil, fmt.Errorf("the simulator takes NodePools, EC2NodeClasses and NodeOverlays, not %s", result.Kind)
		}
		if err := fromUnstructured(result.Stored, typed); err != nil {
			return nil, nil, err
		}
		typed.SetUID(types.UID("uid-" + result.Kind + "-" + result.Name))
		if nodeClass, ok := typed.(*v1.EC2NodeClass); ok {
			withSimulatedStatus(nodeClass, region)
		}
		objects = append(objects, typed)
	}
	return objects, invalid, nil
}

// reconcileNodePools lets Karpenter's own NodePool validation and readiness controllers write
// the status conditions that make a NodePool Ready (or say why it is not).
func reconcileNodePools(ctx context.Context, clk clock.Clock, kubeClient client.Client, cloudProvider cloudprovider.CloudProvider) error {
	validator := validation.NewController(clk, kubeClient, cloudProvider)
	readinessController := readiness.NewController(clk, kubeClient, cloudProvider)
	list := &karpv1.NodePoolList{}
	if err := kubeClient.List(ctx, list); err != nil {
		return err
	}
	for i := range list.Items {
		if _, err := validator.Reconcile(ctx, &list.Items[i]); err != nil {
			return fmt.Errorf("NodePool %s validation: %w", list.Items[i].Name, err)
		}
		nodePool := &karpv1.NodePool{}
		if err := kubeClient.Get(ctx, client.ObjectKeyFromObject(&list.Items[i]), nodePool); err != nil {
			return err
		}
		if _, err := readinessController.Reconcile(ctx, nodePool); err != nil {
			return fmt.Errorf("NodePool %s readiness: %w", nodePool.Name, err)
		}
	}
	return nil
}

func collectStatuses(ctx context.Context, kubeClient client.Client) ([]objectStatus, error) {
	var out []objectStatus
	pools := &karpv1.NodePoolList{}
	if err := kubeClient.List(ctx, pools); err != nil {
		return nil, err
	}
	for _, np := range pools.Items {
		out = append(out, objectStatus{Kind: "NodePool", Name: np.Name, Conditions: conditionsOf(np.Status.Conditions)})
	}
	overlays := &v1alpha1.NodeOverlayList{}
	if err := kubeClient.List(ctx, overlays); err != nil {
		return nil, err
	}
	for _, o := range overlays.Items {
		out = append(out, objectStatus{Kind: "NodeOverlay", Name: o.Name, Conditions: conditionsOf(o.Status.Conditions)})
	}
	return out, nil
}

// pendingPods makes each group's pods from its template, named <group>-<i> in the group's
// namespace; a template that does not decode as a PodTemplateSpec is an input error.
func pendingPods(groups []podGroup) ([]*corev1.Pod, []inputError) {
	var pods []*corev1.Pod
	var errs []inputError
	for _, group := range groups {
		for i := 0; i < group.Count; i++ {
			pod, err := groupPod(group, i)
			if err != nil {
				errs = append(errs, inputError{Object: "pod group " + group.Namespace + "/" + group.Name, Error: err.Error()})
				break
			}
			pods = append(pods, pod)
		}
	}
	return pods, errs
}

// groupPod makes the group's i-th pod, <group>-<i>, pending as kube-scheduler leaves it.
func groupPod(group podGroup, i int) (*corev1.Pod, error) {
	template := &corev1.PodTemplateSpec{}
	if err := fromUnstructured(group.Template, template); err != nil {
		return nil, err
	}
	name := fmt.Sprintf("%s-%d", group.Name, i)
	pod := &corev1.Pod{
		ObjectMeta: *template.ObjectMeta.DeepCopy(),
		Spec:       *template.Spec.DeepCopy(),
	}
	defaultPodRequests(pod)
	pod.Name = name
	pod.Namespace = group.Namespace
	pod.UID = types.UID("uid-pod-" + group.Namespace + "-" + name)
	pod.CreationTimestamp = metav1.Now()
	// What kube-scheduler records on a pod no node fits, which Karpenter waits for.
	pod.Status = corev1.PodStatus{
		Phase: corev1.PodPending,
		Conditions: []corev1.PodCondition{{
			Type:   corev1.PodScheduled,
			Status: corev1.ConditionFalse,
			Reason: corev1.PodReasonUnschedulable,
		}},
	}
	return pod, nil
}

// defaultPodRequests applies the one API server pod default the scheduler depends on: a
// container resource with a limit and no request gets the limit as its request (kubernetes
// pkg/apis/core/v1/defaults.go SetDefaults_Pod). GPU pods usually set only limits.
func defaultPodRequests(pod *corev1.Pod) {
	for _, containers := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range containers {
			resources := &containers[i].Resources
			if resources.Limits == nil {
				continue
			}
			if resources.Requests == nil {
				resources.Requests = corev1.ResourceList{}
			}
			for name, limit := range resources.Limits {
				if _, ok := resources.Requests[name]; !ok {
					resources.Requests[name] = limit.DeepCopy()
				}
			}
		}
	}
}

func fromUnstructured(obj map[string]any, into any) error {
	return runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(obj, into, true)
}

func describeNodeClaim(pool string, pods []*corev1.Pod, options cloudprovider.InstanceTypes, requirements schedulingReqs, requests corev1.ResourceList) simulatedNodeClaim {
	claim := simulatedNodeClaim{NodePool: pool, Requests: quantities(requests)}
	for _, pod := range pods {
		claim.Pods = append(claim.Pods, pod.Namespace+"/"+pod.Name)
	}
	sort.Strings(claim.Pods)
	var best *launchChoice
	for _, it := range options {
		claim.InstanceTypes = append(claim.InstanceTypes, it.Name)
		for _, offering := range it.Offerings.Available().Compatible(requirements) {
			choice := &launchChoice{
				InstanceType: it.Name,
				CapacityType: offering.CapacityType(),
				Zone:         offering.Zone(),
				PricePerHour: offering.Price,
				Capacity:     quantities(it.Capacity),
				Allocatable:  quantities(it.Allocatable()),
			}
			if best == nil || better(choice, best) {
				best = choice
			}
		}
	}
	sort.Strings(claim.InstanceTypes)
	claim.Launch = best
	return claim
}

// better orders launch choices as Karpenter's launch does: spot before on-demand when both are
// allowed, then the lowest price; ties are broken by name and zone for stable output.
func better(a, b *launchChoice) bool {
	if (a.CapacityType == karpv1.CapacityTypeSpot) != (b.CapacityType == karpv1.CapacityTypeSpot) {
		return a.CapacityType == karpv1.CapacityTypeSpot
	}
	if a.PricePerHour != b.PricePerHour {
		return a.PricePerHour < b.PricePerHour
	}
	if a.InstanceType != b.InstanceType {
		return a.InstanceType < b.InstanceType
	}
	return a.Zone < b.Zone
}
