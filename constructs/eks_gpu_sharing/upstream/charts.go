package main

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/releaseutil"
	"sigs.k8s.io/yaml"
)

// Module directories of the pinned modules that hold the charts, set at build time by
// eks_gpu_sharing.upstream from `go list -m` (charts are files, not Go packages, so they are
// read from the module cache rather than embedded).
var (
	karpenterModuleDir    string
	devicePluginModuleDir string
	// devicePluginVersion is the version of devicePluginModuleDir. Only the test tools link
	// the module's Go code, so without them the build info does not name it (moduleVersions).
	devicePluginVersion string
)

// chartPath maps the chart names the library deploys to their folders in the pinned modules.
func chartPath(name string) (string, error) {
	switch name {
	case "karpenter":
		return filepath.Join(karpenterModuleDir, "charts", "karpenter"), nil
	case "karpenter-crd":
		return filepath.Join(karpenterModuleDir, "charts", "karpenter-crd"), nil
	case "nvidia-device-plugin":
		return filepath.Join(devicePluginModuleDir, "deployments", "helm", "nvidia-device-plugin"), nil
	}
	return "", fmt.Errorf("unknown chart %q (karpenter, karpenter-crd, nvidia-device-plugin)", name)
}

type renderChartRequest struct {
	Command     string         `json:"command"`
	Chart       string         `json:"chart"`
	Release     string         `json:"release"`
	Namespace   string         `json:"namespace"`
	Values      map[string]any `json:"values"`
	KubeVersion string         `json:"kubeVersion"`
}

type renderedChart struct {
	Chart      map[string]string `json:"chart"`
	Objects    []map[string]any  `json:"objects"`
	CRDs       []map[string]any  `json:"crds"`
	Defaults   map[string]any    `json:"defaults"`
	Error      string            `json:"error,omitempty"`
	Modules    map[string]string `json:"modules"`
	SourcePath string            `json:"sourcePath"`
}

func runRenderChart(raw []byte) (any, error) {
	var req renderChartRequest
	if err := decode(raw, &req); err != nil {
		return nil, err
	}
	return renderChart(req)
}

// renderChart renders a chart client-only, as `helm template` does: Helm's own install action
// in dry-run mode with a memory release store and no cluster. A template or values-schema
// failure is returned in Error, as Helm would report it to a user.
func renderChart(req renderChartRequest) (*renderedChart, error) {
	path, err := chartPath(req.Chart)
	if err != nil {
		return nil, err
	}
	chart, err := loader.Load(path)
	if err != nil {
		return nil, fmt.Errorf("loading chart %s: %w", path, err)
	}
	out := &renderedChart{
		Chart: map[string]string{
			"name":       chart.Metadata.Name,
			"version":    chart.Metadata.Version,
			"appVersion": chart.Metadata.AppVersion,
		},
		Objects:    []map[string]any{},
		CRDs:       []map[string]any{},
		Defaults:   chart.Values,
		Modules:    moduleVersions(),
		SourcePath: path,
	}
	install := action.NewInstall(&action.Configuration{Log: func(string, ...any) {}})
	install.DryRun = true
	install.ClientOnly = true
	install.Replace = true
	install.IncludeCRDs = true
	install.ReleaseName = req.Release
	install.Namespace = req.Namespace
	if req.KubeVersion != "" {
		kubeVersion, err := chartutil.ParseKubeVersion(req.KubeVersion)
		if err != nil {
			return nil, err
		}
		install.KubeVersion = kubeVersion
	}
	values := req.Values
	if values == nil {
		values = map[string]any{}
	}
	release, err := install.Run(chart, values)
	if err != nil {
		out.Error = err.Error()
		return out, nil
	}
	manifests := releaseutil.SplitManifests(release.Manifest)
	keys := make([]string, 0, len(manifests))
	for key := range manifests {
		keys = append(keys, key)
	}
	// SplitManifests keys are "manifest-<n>"; keep the chart's order.
	sort.Slice(keys, func(i, j int) bool { return manifestIndex(keys[i]) < manifestIndex(keys[j]) })
	for _, key := range keys {
		obj := map[string]any{}
		if err := yaml.Unmarshal([]byte(manifests[key]), &obj); err != nil {
			return nil, fmt.Errorf("rendered manifest is not YAML: %w", err)
		}
		if len(obj) == 0 {
			continue
		}
		if obj["kind"] == "CustomResourceDefinition" {
			out.CRDs = append(out.CRDs, obj)
		} else {
			out.Objects = append(out.Objects, obj)
		}
	}
	return out, nil
}

func manifestIndex(key string) int {
	var n int
	_, _ = fmt.Sscanf(strings.TrimPrefix(key, "manifest-"), "%d", &n)
	return n
}
