//go:build testtools

// Test-only: built with -tags testtools (upstream(test_tools=True)), left out of the wheel
// and of the program `simulate` and `estimate` build (see main.go).

package main

import (
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/kubectl/pkg/util/prune"
	"k8s.io/kubernetes/pkg/api/legacyscheme"

	awsapis "github.com/aws/karpenter-provider-aws/pkg/apis"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
)

func init() { commands["prune-allowlist"] = runPruneAllowlist }

// pruneRequest asks which kinds `kubectl apply --prune` deletes when they leave a manifest:
// with no allowlist, kubectl's default (what aws-cdk-lib's kubectl handler runs: `kubectl apply
// --prune -l <label>`); otherwise the --prune-allowlist values, parsed by kubectl.
type pruneRequest struct {
	Command   string   `json:"command"`
	Allowlist []string `json:"allowlist"`
}

type pruneKind struct {
	Group      string `json:"group"`
	Version    string `json:"version"`
	Kind       string `json:"kind"`
	Namespaced bool   `json:"namespaced"`
}

type pruneResponse struct {
	Kinds []pruneKind `json:"kinds"`
	// Error is kubectl's own message when it refuses the allowlist.
	Error string `json:"error,omitempty"`
}

func runPruneAllowlist(raw []byte) (any, error) {
	var req pruneRequest
	if err := decode(raw, &req); err != nil {
		return nil, err
	}
	mapper := pruneRESTMapper()
	var resources []prune.Resource
	if len(req.Allowlist) > 0 {
		parsed, err := prune.ParseResources(mapper, req.Allowlist)
		if err != nil {
			return pruneResponse{Error: err.Error()}, nil
		}
		resources = parsed
	}
	namespaced, clusterScoped, err := prune.GetRESTMappings(mapper, resources, false)
	if err != nil {
		return pruneResponse{Error: err.Error()}, nil
	}
	var kinds []pruneKind
	for _, group := range []struct {
		mappings   []*meta.RESTMapping
		namespaced bool
	}{{namespaced, true}, {clusterScoped, false}} {
		for _, m := range group.mappings {
			gvk := m.GroupVersionKind
			kinds = append(kinds, pruneKind{gvk.Group, gvk.Version, gvk.Kind, group.namespaced})
		}
	}
	sort.Slice(kinds, func(i, j int) bool {
		return kinds[i].Group+"/"+kinds[i].Kind < kinds[j].Group+"/"+kinds[j].Kind
	})
	return pruneResponse{Kinds: kinds}, nil
}

// pruneRESTMapper maps every kind the API server code here knows: the built-in kinds of the
// installed API groups (scoped as their registry strategies say, namespaced where no strategy
// is linked in) and the Karpenter provider's CRDs (scoped as the CRDs say).
func pruneRESTMapper() meta.RESTMapper {
	mapper := meta.NewDefaultRESTMapper(nil)
	for gvk := range legacyscheme.Scheme.AllKnownTypes() {
		if gvk.Version == runtime.APIVersionInternal || strings.HasSuffix(gvk.Kind, "List") ||
			strings.HasSuffix(gvk.Kind, "Options") || gvk.Kind == "WatchEvent" || gvk.Kind == "Status" {
			continue
		}
		scope := meta.RESTScopeNamespace
		if strategy, ok := builtinStrategies[gvk.GroupKind()]; ok && !strategy.NamespaceScoped() {
			scope = meta.RESTScopeRoot
		}
		mapper.Add(gvk, scope)
	}
	for _, crd := range awsapis.CRDs {
		scope := meta.RESTScopeNamespace
		if crd.Spec.Scope == apiextensionsv1.ClusterScoped {
			scope = meta.RESTScopeRoot
		}
		for _, version := range crd.Spec.Versions {
			if version.Served {
				mapper.Add(schema.GroupVersionKind{Group: crd.Spec.Group, Version: version.Name, Kind: crd.Spec.Names.Kind}, scope)
			}
		}
	}
	return mapper
}
