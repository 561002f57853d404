package main

import (
	"fmt"
	"maps"
	"sort"

	corev1 "k8s.io/api/core/v1"
	resourcev1 "k8s.io/api/resource/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/kubernetes/pkg/api/legacyscheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// draObjects are the resource.k8s.io/v1 objects a round needs for pods that ask for devices
// through ResourceClaims: the ResourceClaimTemplates the pods name, and the DeviceClasses the
// claims' requests name (in a cluster, the NVIDIA DRA driver's chart creates gpu.nvidia.com).
type draObjects struct {
	templates map[types.NamespacedName]*resourcev1.ResourceClaimTemplate
	classes   []*resourcev1.DeviceClass
}

// decodeDRA admits each object through the API server's create path (as kubectl apply would)
// and decodes it; an object the API server refuses is an input error, as for pods.
func decodeDRA(templates, classes []map[string]any) (draObjects, []inputError) {
	objects := draObjects{templates: map[types.NamespacedName]*resourcev1.ResourceClaimTemplate{}}
	var errs []inputError
	for _, raw := range templates {
		template := &resourcev1.ResourceClaimTemplate{}
		if problem := admitDRA(raw, template); problem != "" {
			errs = append(errs, inputError{Object: "ResourceClaimTemplate " + nameOf(raw), Error: problem})
			continue
		}
		if template.Namespace == "" {
			template.Namespace = metav1.NamespaceDefault
		}
		objects.templates[types.NamespacedName{Namespace: template.Namespace, Name: template.Name}] = template
	}
	for _, raw := range classes {
		class := &resourcev1.DeviceClass{}
		if problem := admitDRA(raw, class); problem != "" {
			errs = append(errs, inputError{Object: "DeviceClass " + nameOf(raw), Error: problem})
			continue
		}
		objects.classes = append(objects.classes, class)
	}
	return objects, errs
}

func admitDRA(raw map[string]any, into client.Object) string {
	strategy, ok := builtinStrategy(fmt.Sprint(raw["apiVersion"]), fmt.Sprint(raw["kind"]))
	if !ok {
		return fmt.Sprintf("not a resource.k8s.io/v1 object the API server serves (%v %v)", raw["apiVersion"], raw["kind"])
	}
	if problems := admitBuiltin(raw, strategy); len(problems) > 0 {
		return problems[0]
	}
	if err := fromUnstructured(raw, into); err != nil {
		return err.Error()
	}
	// What the API server stores: its defaults applied (a request without a count gets
	// allocationMode ExactCount and count 1; undefaulted, the allocator would give it nothing).
	legacyscheme.Scheme.Default(into)
	return ""
}

// claimsForPods does what kube-controller-manager's resource-claim controller does for each
// pending pod whose spec.resourceClaims name a ResourceClaimTemplate: it creates the pod's
// ResourceClaim from the template and records its name in the pod's
// status.resourceClaimStatuses, which Karpenter's scheduler reads (resolvePodClaims in
// sigs.k8s.io/karpenter pkg/controllers/provisioning/scheduling/dra.go). The claim is built as
// k8s.io/kubernetes v1.37 pkg/controller/resourceclaim/controller.go handleClaim builds it
// (annotations and labels of the template, resource.kubernetes.io/pod-claim-name, the pod as
// controlling owner, the template's spec); the API server's generated five-character suffix is
// a fixed, unique one here. A pod naming a template that is not given is an input error: in a
// cluster its claim would never be created and the pod would wait forever.
func claimsForPods(pods []*corev1.Pod, dra draObjects) ([]client.Object, []inputError) {
	var claims []client.Object
	var errs []inputError
	for index, pod := range pods {
		var statuses []corev1.PodResourceClaimStatus
		for _, podClaim := range pod.Spec.ResourceClaims {
			if podClaim.ResourceClaimTemplateName == nil {
				continue // a shared ResourceClaim by name: the caller's, not generated
			}
			key := types.NamespacedName{Namespace: pod.Namespace, Name: *podClaim.ResourceClaimTemplateName}
			template, ok := dra.templates[key]
			if !ok {
				errs = append(errs, inputError{Object: "pod " + pod.Namespace + "/" + pod.Name, Error: fmt.Sprintf("ResourceClaimTemplate %s is not among the objects: its claim would never be created", key)})
				continue
			}
			annotations := maps.Clone(template.Spec.ObjectMeta.Annotations)
			if annotations == nil {
				annotations = map[string]string{}
			}
			annotations[resourcev1.PodResourceClaimAnnotation] = podClaim.Name
			controller := true
			name := fmt.Sprintf("%s-%s-%05d", pod.Name, podClaim.Name, index)
			claims = append(claims, &resourcev1.ResourceClaim{
				ObjectMeta: metav1.ObjectMeta{
					Name:        name,
					Namespace:   pod.Namespace,
					UID:         types.UID("uid-claim-" + pod.Namespace + "-" + name),
					Annotations: annotations,
					Labels:      template.Spec.ObjectMeta.Labels,
					OwnerReferences: []metav1.OwnerReference{{
						APIVersion: "v1", Kind: "Pod", Name: pod.Name, UID: pod.UID, Controller: &controller,
					}},
				},
				Spec: *template.Spec.Spec.DeepCopy(),
			})
			claimName := name
			statuses = append(statuses, corev1.PodResourceClaimStatus{Name: podClaim.Name, ResourceClaimName: &claimName})
		}
		pod.Status.ResourceClaimStatuses = statuses
	}
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Object < errs[j].Object })
	return claims, errs
}
