package main

import (
	"context"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/kubernetes/pkg/api/legacyscheme"
	_ "k8s.io/kubernetes/pkg/apis/admissionregistration/install"
	_ "k8s.io/kubernetes/pkg/apis/apps/install"
	_ "k8s.io/kubernetes/pkg/apis/batch/install"
	_ "k8s.io/kubernetes/pkg/apis/core/install"
	_ "k8s.io/kubernetes/pkg/apis/networking/install"
	_ "k8s.io/kubernetes/pkg/apis/policy/install"
	_ "k8s.io/kubernetes/pkg/apis/rbac/install"
	_ "k8s.io/kubernetes/pkg/apis/resource/install"
	"k8s.io/kubernetes/pkg/capabilities"
	"k8s.io/kubernetes/pkg/registry/admissionregistration/validatingadmissionpolicy"
	"k8s.io/kubernetes/pkg/registry/admissionregistration/validatingadmissionpolicybinding"
	"k8s.io/kubernetes/pkg/registry/apps/daemonset"
	"k8s.io/kubernetes/pkg/registry/apps/deployment"
	"k8s.io/kubernetes/pkg/registry/batch/job"
	"k8s.io/kubernetes/pkg/registry/core/configmap"
	"k8s.io/kubernetes/pkg/registry/core/namespace"
	"k8s.io/kubernetes/pkg/registry/core/resourcequota"
	"k8s.io/kubernetes/pkg/registry/core/service"
	"k8s.io/kubernetes/pkg/registry/core/serviceaccount"
	"k8s.io/kubernetes/pkg/registry/policy/poddisruptionbudget"
	"k8s.io/kubernetes/pkg/registry/rbac/clusterrole"
	"k8s.io/kubernetes/pkg/registry/rbac/clusterrolebinding"
	"k8s.io/kubernetes/pkg/registry/rbac/role"
	"k8s.io/kubernetes/pkg/registry/rbac/rolebinding"
	"k8s.io/kubernetes/pkg/registry/resource/deviceclass"
	"k8s.io/kubernetes/pkg/registry/resource/resourceclaimtemplate"
)

// builtinStrategies are kube-apiserver's own registry strategies (the code behind every create)
// for the built-in kinds this library and the charts it installs emit.
var builtinStrategies = map[schema.GroupKind]rest.RESTCreateStrategy{
	{Group: "", Kind: "Namespace"}:                                                    namespace.Strategy,
	{Group: "", Kind: "ConfigMap"}:                                                    configmap.Strategy,
	{Group: "", Kind: "ResourceQuota"}:                                                resourcequota.Strategy,
	{Group: "", Kind: "Service"}:                                                      service.Strategy,
	{Group: "", Kind: "ServiceAccount"}:                                               serviceaccount.Strategy,
	{Group: "apps", Kind: "Deployment"}:                                               deployment.Strategy,
	{Group: "apps", Kind: "DaemonSet"}:                                                daemonset.Strategy,
	{Group: "batch", Kind: "Job"}:                                                     job.Strategy,
	{Group: "rbac.authorization.k8s.io", Kind: "ClusterRole"}:                         clusterrole.Strategy,
	{Group: "rbac.authorization.k8s.io", Kind: "ClusterRoleBinding"}:                  clusterrolebinding.Strategy,
	{Group: "rbac.authorization.k8s.io", Kind: "Role"}:                                role.Strategy,
	{Group: "rbac.authorization.k8s.io", Kind: "RoleBinding"}:                         rolebinding.Strategy,
	{Group: "policy", Kind: "PodDisruptionBudget"}:                                    poddisruptionbudget.Strategy,
	{Group: "admissionregistration.k8s.io", Kind: "ValidatingAdmissionPolicy"}:        validatingadmissionpolicy.NewStrategy(nil, nil),
	{Group: "admissionregistration.k8s.io", Kind: "ValidatingAdmissionPolicyBinding"}: validatingadmissionpolicybinding.NewStrategy(nil, nil, nil),
	// The namespace client is read only for claims that ask for admin access, which the library
	// never writes (resource.AuthorizedForAdmin returns before it otherwise).
	{Group: "resource.k8s.io", Kind: "ResourceClaimTemplate"}: resourceclaimtemplate.NewStrategy(nil),
	{Group: "resource.k8s.io", Kind: "DeviceClass"}:           deviceclass.Strategy,
}

func init() {
	// kube-apiserver's --allow-privileged, which EKS turns on (the NVIDIA device plugin and
	// the VPC CNI run privileged); the library's default is off.
	capabilities.Setup(true, 0)
}

// strictCodecs decode like the API server with fieldValidation=Strict (kubectl's default):
// unknown and duplicate fields are errors.
var strictCodecs = serializer.NewCodecFactory(legacyscheme.Scheme, serializer.EnableStrict)

// admitBuiltin runs kube-apiserver's create path for a built-in object: strict decoding of the
// served version, the scheme's defaulting, conversion to the internal version, and
// rest.BeforeCreate (the strategy's PrepareForCreate and Validate, metadata checks).
func admitBuiltin(obj map[string]any, strategy rest.RESTCreateStrategy) []string {
	raw, err := jsonMarshal(obj)
	if err != nil {
		return []string{err.Error()}
	}
	var problems []string
	versioned, gvk, err := strictCodecs.UniversalDeserializer().Decode(raw, nil, nil)
	if err != nil {
		if versioned == nil || !runtime.IsStrictDecodingError(err) {
			return []string{err.Error()}
		}
		problems = append(problems, err.Error())
	}
	legacyscheme.Scheme.Default(versioned)
	internal, err := legacyscheme.Scheme.ConvertToVersion(versioned, schema.GroupVersion{Group: gvk.Group, Version: runtime.APIVersionInternal})
	if err != nil {
		return append(problems, err.Error())
	}
	// The request a kubectl create would make: the object's namespace (kubectl sends
	// "default" for a namespaced object without one), none for cluster-scoped kinds.
	namespace := metav1.NamespaceNone
	if strategy.NamespaceScoped() {
		namespace = metav1.NamespaceDefault
		if meta, ok := obj["metadata"].(map[string]any); ok {
			if ns, ok := meta["namespace"].(string); ok && ns != "" {
				namespace = ns
			}
		}
	}
	ctx := createRequestContext(*gvk, namespace, obj)
	// What the generic registry store does before BeforeCreate: system fields (uid, time).
	if accessor, err := meta.Accessor(internal); err == nil {
		rest.FillObjectMetaSystemFields(accessor)
	}
	if err := rest.BeforeCreate(strategy, context.Context(ctx), internal); err != nil {
		problems = append(problems, err.Error())
	}
	return problems
}

// createRequestContext is the context kube-apiserver's handler gives a create: the namespace and
// the request info (group, version, plural resource, verb). From Kubernetes 1.37 the declarative
// validation the strategies run reads the request info and fails without it
// (k8s.io/apiserver pkg/registry/rest/validate.go, requestInfo).
func createRequestContext(gvk schema.GroupVersionKind, namespace string, obj map[string]any) context.Context {
	ctx := genericapirequest.WithNamespace(genericapirequest.NewContext(), namespace)
	name := ""
	if meta, ok := obj["metadata"].(map[string]any); ok {
		name, _ = meta["name"].(string)
	}
	plural, _ := meta.UnsafeGuessKindToResource(gvk)
	return genericapirequest.WithRequestInfo(ctx, &genericapirequest.RequestInfo{
		IsResourceRequest: true,
		Verb:              "create",
		APIGroup:          gvk.Group,
		APIVersion:        gvk.Version,
		Resource:          plural.Resource,
		Namespace:         namespace,
		Name:              name,
	})
}

func builtinStrategy(apiVersion, kind string) (rest.RESTCreateStrategy, bool) {
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return nil, false
	}
	strategy, ok := builtinStrategies[schema.GroupKind{Group: gv.Group, Kind: kind}]
	return strategy, ok
}
