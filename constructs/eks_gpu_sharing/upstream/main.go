// Command upstream runs the consumers' own code on what eks-gpu-sharing generates.
//
// It reads one JSON request on stdin and writes one JSON response on stdout:
//
//	{"command": "validate", ...}                    API server create path for Karpenter objects
//	{"command": "render-chart", ...}                Helm (client-only) on the pinned charts
//	{"command": "instance-types", ...}              the AWS provider's instance-type code
//	{"command": "simulate", ...}                    Karpenter's provisioner, one scheduling round
//	{"command": "karpenter-crds"}                   the CRDs Karpenter's code embeds
//	{"command": "versions"}                         the pinned module versions
//
// and, built with -tags testtools (the files testtools_*.go, which only the test suite needs:
// they are not in the wheel, and the program `simulate` and `estimate` build leaves them out):
//
//	{"command": "parse-device-plugin-config", ...}  NVIDIA's api/config/v1 parser
//	{"command": "prune-allowlist", ...}             the kinds kubectl apply --prune deletes
//	{"command": "pod-security", ...}                Pod Security admission's evaluator
//	{"command": "evaluate-policy", ...}             a ValidatingAdmissionPolicy's CEL on pods
//
// Errors in the input (an invalid object, a config the plugin rejects) are data in the response;
// only a broken request makes the process exit non-zero, with {"error": "..."}.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/go-logr/logr"
	"k8s.io/klog/v2"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
)

type command func(raw []byte) (any, error)

// commands are the requests this program answers; the testtools_*.go files add theirs in init.
var commands = map[string]command{
	"validate":       runValidate,
	"render-chart":   runRenderChart,
	"instance-types": runInstanceTypes,
	"simulate":       runSimulate,
	"karpenter-crds": runKarpenterCRDs,
	"versions":       runVersions,
}

func main() {
	// Karpenter and the API server code log through controller-runtime and klog; the response
	// on stdout is the only output this program owes its caller.
	ctrllog.SetLogger(logr.Discard())
	klog.SetLogger(logr.Discard())
	if err := serve(os.Stdin, os.Stdout); err != nil {
		_ = json.NewEncoder(os.Stdout).Encode(map[string]string{"error": err.Error()})
		os.Exit(1)
	}
}

func serve(in io.Reader, out io.Writer) error {
	raw, err := io.ReadAll(in)
	if err != nil {
		return fmt.Errorf("reading the request: %w", err)
	}
	var head struct {
		Command string `json:"command"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return fmt.Errorf("the request is not JSON: %w", err)
	}
	run, ok := commands[head.Command]
	if !ok {
		return fmt.Errorf("unknown command %q", head.Command)
	}
	response, err := run(raw)
	if err != nil {
		return fmt.Errorf("%s: %w", head.Command, err)
	}
	encoder := json.NewEncoder(out)
	encoder.SetEscapeHTML(false)
	return encoder.Encode(response)
}

// decode reads a command's request into its typed form, refusing unknown fields so that a
// misspelt key on the Python side is an error rather than a silently ignored setting.
func decode(raw []byte, into any) error {
	decoder := json.NewDecoder(bytesReader(raw))
	decoder.DisallowUnknownFields()
	return decoder.Decode(into)
}
