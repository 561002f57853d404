//go:build testtools

// Test-only: built with -tags testtools (upstream(test_tools=True)), left out of the wheel
// and of the program `simulate` and `estimate` build (see main.go).

package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	spec "github.com/NVIDIA/k8s-device-plugin/api/config/v1"
	cli "github.com/urfave/cli/v2"
)

func init() { commands["parse-device-plugin-config"] = runParseDevicePluginConfig }

type parseDevicePluginConfigRequest struct {
	Command string            `json:"command"`
	Configs map[string]string `json:"configs"`
}

type parsedDevicePluginConfig struct {
	Config json.RawMessage `json:"config,omitempty"`
	Error  string          `json:"error,omitempty"`
}

// runParseDevicePluginConfig loads each ConfigMap value the way the plugin loads its config
// file at start-up: api/config/v1 NewConfig with --config-file (YAML or JSON, validated by the
// config types' own UnmarshalJSON, then the loader's defaults), and returns it as JSON.
func runParseDevicePluginConfig(raw []byte) (any, error) {
	var req parseDevicePluginConfigRequest
	if err := decode(raw, &req); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "device-plugin-config-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	results := map[string]parsedDevicePluginConfig{}
	for i, key := range sortedKeys(req.Configs) {
		path := filepath.Join(dir, fmt.Sprintf("config-%d.yaml", i))
		if err := os.WriteFile(path, []byte(req.Configs[key]), 0o600); err != nil {
			return nil, err
		}
		results[key] = loadDevicePluginConfig(path)
	}
	return map[string]any{"results": results, "modules": moduleVersions()}, nil
}

func loadDevicePluginConfig(path string) parsedDevicePluginConfig {
	flags := flag.NewFlagSet("nvidia-device-plugin", flag.ContinueOnError)
	flags.String("config-file", "", "")
	if err := flags.Set("config-file", path); err != nil {
		return parsedDevicePluginConfig{Error: err.Error()}
	}
	config, err := spec.NewConfig(cli.NewContext(cli.NewApp(), flags, nil), nil)
	if err != nil {
		return parsedDevicePluginConfig{Error: err.Error()}
	}
	parsed, err := json.Marshal(config)
	if err != nil {
		return parsedDevicePluginConfig{Error: err.Error()}
	}
	return parsedDevicePluginConfig{Config: parsed}
}
