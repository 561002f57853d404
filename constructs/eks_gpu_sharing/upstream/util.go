package main

import (
	"bytes"
	"encoding/json"
	"io"
	"runtime/debug"
	"sort"
	"strings"
)

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

// pinnedModules are the upstream modules whose versions a response reports.
var pinnedModules = []string{
	"github.com/aws/karpenter-provider-aws",
	"sigs.k8s.io/karpenter",
	"github.com/NVIDIA/k8s-device-plugin",
	"helm.sh/helm/v3",
	"k8s.io/apiextensions-apiserver",
	"k8s.io/api",
	"k8s.io/kubernetes",
}

// moduleVersions reads the versions this binary was built with from its own build info, so a
// report can never name a version other than the code that produced it.
func moduleVersions() map[string]string {
	versions := map[string]string{}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return versions
	}
	versions["go"] = info.GoVersion
	if devicePluginVersion != "" {
		versions["github.com/NVIDIA/k8s-device-plugin"] = devicePluginVersion
	}
	for _, dep := range info.Deps {
		module := dep
		if dep.Replace != nil {
			module = dep.Replace
		}
		for _, name := range pinnedModules {
			if dep.Path == name {
				versions[name] = module.Version
			}
		}
	}
	return versions
}

type versionsRequest struct {
	Command string `json:"command"`
}

func runVersions(raw []byte) (any, error) {
	var req versionsRequest
	if err := decode(raw, &req); err != nil {
		return nil, err
	}
	return map[string]any{"modules": moduleVersions()}, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// cut shortens long values in messages.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

func lower(s string) string { return strings.ToLower(s) }

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }
