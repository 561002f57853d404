package main

import (
	"context"
	"fmt"

	awsapis "github.com/aws/karpenter-provider-aws/pkg/apis"
	apiextensionshelpers "k8s.io/apiextensions-apiserver/pkg/apihelpers"
	apiextensionsinternal "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	schemaobjectmeta "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/objectmeta"
	structuralpruning "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apiextensions-apiserver/pkg/registry/customresource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// createStrategy is the part of the API server's custom resource strategy a create goes through.
type createStrategy interface {
	PrepareForCreate(ctx context.Context, obj runtime.Object)
	Validate(ctx context.Context, obj runtime.Object) field.ErrorList
}

// crdAdmitter handles one served version of one CRD the way kube-apiserver's CRD handler does:
// decode (prune unknown fields, coerce metadata), default, prepare for create, validate
// (OpenAPI schema, metadata, list types, x-kubernetes-validations CEL rules).
type crdAdmitter struct {
	gvk        schema.GroupVersionKind
	namespaced bool
	structural *structuralschema.Structural
	strategy   createStrategy
}

// karpenterAdmitters builds an admitter per served version of the provider's pinned CRDs
// (EC2NodeClass, NodeClaim, NodePool and the provider's NodeOverlay, which adds a
// karpenter.k8s.aws label-domain rule that core's lacks), keyed by apiVersion/kind.
func karpenterAdmitters() (map[string]*crdAdmitter, error) {
	admitters := map[string]*crdAdmitter{}
	for _, crd := range awsapis.CRDs {
		for _, version := range crd.Spec.Versions {
			if !version.Served {
				continue
			}
			admitter, err := newCRDAdmitter(crd, version)
			if err != nil {
				return nil, fmt.Errorf("CRD %s version %s: %w", crd.Name, version.Name, err)
			}
			admitters[admitter.gvk.GroupVersion().String()+"/"+admitter.gvk.Kind] = admitter
		}
	}
	return admitters, nil
}

func newCRDAdmitter(crd *apiextensionsv1.CustomResourceDefinition, version apiextensionsv1.CustomResourceDefinitionVersion) (*crdAdmitter, error) {
	validation, err := apiextensionshelpers.GetSchemaForVersion(crd, version.Name)
	if err != nil {
		return nil, err
	}
	internal := &apiextensionsinternal.CustomResourceValidation{}
	if err := apiextensionsv1.Convert_v1_CustomResourceValidation_To_apiextensions_CustomResourceValidation(validation, internal, nil); err != nil {
		return nil, err
	}
	structural, err := structuralschema.NewStructural(internal.OpenAPIV3Schema)
	if err != nil {
		return nil, err
	}
	structural = structural.DeepCopy()
	if err := structuraldefaulting.PruneDefaults(structural); err != nil {
		return nil, err
	}
	validator, _, err := apiservervalidation.NewSchemaValidator(internal.OpenAPIV3Schema)
	if err != nil {
		return nil, err
	}
	var statusSpec *apiextensionsinternal.CustomResourceSubresourceStatus
	var statusValidator apiservervalidation.SchemaValidator
	if version.Subresources != nil && version.Subresources.Status != nil {
		statusSpec = &apiextensionsinternal.CustomResourceSubresourceStatus{}
		if status, ok := internal.OpenAPIV3Schema.Properties["status"]; ok {
			if statusValidator, _, err = apiservervalidation.NewSchemaValidator(&status); err != nil {
				return nil, err
			}
		}
	}
	gvk := schema.GroupVersionKind{Group: crd.Spec.Group, Version: version.Name, Kind: crd.Spec.Names.Kind}
	namespaced := crd.Spec.Scope == apiextensionsv1.NamespaceScoped
	strategy := customresource.NewStrategy(
		nil, namespaced, gvk, validator, statusValidator, structural, statusSpec, nil, version.SelectableFields,
	)
	return &crdAdmitter{gvk: gvk, namespaced: namespaced, structural: structural, strategy: strategy}, nil
}

// admit runs the create path on a copy of obj and returns the object as the API server would
// store it (pruned, defaulted) and every error it would answer. Unknown fields count as errors,
// as with kubectl's default strict field validation.
func (a *crdAdmitter) admit(obj map[string]any) (map[string]any, []string) {
	u := &unstructured.Unstructured{Object: runtime.DeepCopyJSON(obj)}
	var problems []string
	meta, foundMeta, unknownMeta, err := schemaobjectmeta.GetObjectMetaWithOptions(u.Object, schemaobjectmeta.ObjectMetaOptions{ReturnUnknownFieldPaths: true})
	if err != nil {
		return nil, []string{err.Error()}
	}
	unknown := append([]string{}, unknownMeta...)
	unknown = append(unknown, structuralpruning.PruneWithOptions(u.Object, a.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})...)
	structuraldefaulting.PruneNonNullableNullsWithoutDefaults(u.Object, a.structural)
	coerceErr, coerced := schemaobjectmeta.CoerceWithOptions(nil, u.Object, a.structural, false, schemaobjectmeta.CoerceOptions{ReturnUnknownFieldPaths: true})
	if coerceErr != nil {
		problems = append(problems, coerceErr.Error())
	}
	unknown = append(unknown, coerced...)
	u.SetAPIVersion(a.gvk.GroupVersion().String())
	u.SetKind(a.gvk.Kind)
	if foundMeta {
		if err := schemaobjectmeta.SetObjectMeta(u.Object, meta); err != nil {
			problems = append(problems, err.Error())
		}
	}
	for _, path := range unknown {
		problems = append(problems, fmt.Sprintf("%s: unknown field (strict field validation)", path))
	}
	structuraldefaulting.Default(u.Object, a.structural)
	namespace := ""
	if a.namespaced {
		namespace = u.GetNamespace()
	}
	ctx := createRequestContext(a.gvk, namespace, u.Object)
	a.strategy.PrepareForCreate(ctx, u)
	for _, e := range a.strategy.Validate(ctx, u) {
		problems = append(problems, e.Error())
	}
	return u.Object, problems
}

type validateRequest struct {
	Command string           `json:"command"`
	Objects []map[string]any `json:"objects"`
}

type validationResult struct {
	APIVersion string         `json:"apiVersion"`
	Kind       string         `json:"kind"`
	Name       string         `json:"name"`
	Errors     []string       `json:"errors"`
	Stored     map[string]any `json:"stored,omitempty"`
}

func runValidate(raw []byte) (any, error) {
	var req validateRequest
	if err := decode(raw, &req); err != nil {
		return nil, err
	}
	admitters, err := karpenterAdmitters()
	if err != nil {
		return nil, err
	}
	results := make([]validationResult, 0, len(req.Objects))
	for _, obj := range req.Objects {
		results = append(results, validateObject(admitters, obj))
	}
	return map[string]any{"results": results, "modules": moduleVersions()}, nil
}

func validateObject(admitters map[string]*crdAdmitter, obj map[string]any) validationResult {
	u := unstructured.Unstructured{Object: obj}
	result := validationResult{APIVersion: u.GetAPIVersion(), Kind: u.GetKind(), Name: u.GetName(), Errors: []string{}}
	admitter, ok := admitters[u.GetAPIVersion()+"/"+u.GetKind()]
	if !ok {
		if strategy, builtin := builtinStrategy(u.GetAPIVersion(), u.GetKind()); builtin {
			result.Errors = append(result.Errors, admitBuiltin(obj, strategy)...)
			return result
		}
		result.Errors = append(result.Errors, fmt.Sprintf("neither a pinned Karpenter CRD nor a built-in kind this validator knows serves %s %s", u.GetAPIVersion(), u.GetKind()))
		return result
	}
	stored, problems := admitter.admit(obj)
	result.Errors = append(result.Errors, problems...)
	result.Stored = stored
	return result
}

// runKarpenterCRDs returns the CRDs the provider's Go code embeds (pkg/apis/crds), the ones
// Karpenter's controller is built against.
func runKarpenterCRDs(raw []byte) (any, error) {
	var req struct {
		Command string `json:"command"`
	}
	if err := decode(raw, &req); err != nil {
		return nil, err
	}
	return map[string]any{"crds": awsapis.CRDs}, nil
}
