//go:build testtools

// Test-only: built with -tags testtools (upstream(test_tools=True)), left out of the wheel
// and of the program `simulate` and `estimate` build (see main.go).

package main

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
)

func init() { commands["pod-security"] = runPodSecurity }

// podSecurityRequest asks the Pod Security admission's own evaluator whether pod templates meet
// the levels a namespace's pod-security.kubernetes.io labels set.
type podSecurityRequest struct {
	Command         string            `json:"command"`
	NamespaceLabels map[string]string `json:"namespaceLabels"`
	Pods            []podTemplate     `json:"pods"`
}

type podTemplate struct {
	Name     string            `json:"name"`
	Metadata metav1.ObjectMeta `json:"metadata"`
	Spec     corev1.PodSpec    `json:"spec"`
}

type podSecurityVerdict struct {
	Name string `json:"name"`
	// Forbidden[mode] is why the mode's level (enforce, audit, warn) refuses the pod; absent
	// when it allows it.
	Forbidden map[string]string `json:"forbidden"`
}

type podSecurityResponse struct {
	Policy   map[string]string    `json:"policy"`
	Verdicts []podSecurityVerdict `json:"verdicts"`
	Errors   []string             `json:"errors"`
}

func runPodSecurity(raw []byte) (any, error) {
	var req podSecurityRequest
	if err := decode(raw, &req); err != nil {
		return nil, err
	}
	evaluator, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		return nil, err
	}
	// The API server's defaults when a label is absent: privileged, latest.
	defaults := api.Policy{
		Enforce: api.LevelVersion{Level: api.LevelPrivileged, Version: api.LatestVersion()},
		Audit:   api.LevelVersion{Level: api.LevelPrivileged, Version: api.LatestVersion()},
		Warn:    api.LevelVersion{Level: api.LevelPrivileged, Version: api.LatestVersion()},
	}
	parsed, errs := api.PolicyToEvaluate(req.NamespaceLabels, defaults)
	response := podSecurityResponse{
		Policy: map[string]string{
			"enforce": parsed.Enforce.String(),
			"audit":   parsed.Audit.String(),
			"warn":    parsed.Warn.String(),
		},
		Verdicts: []podSecurityVerdict{},
		Errors:   []string{},
	}
	for _, e := range errs {
		response.Errors = append(response.Errors, e.Error())
	}
	for _, pod := range req.Pods {
		verdict := podSecurityVerdict{Name: pod.Name, Forbidden: map[string]string{}}
		for mode, level := range map[string]api.LevelVersion{
			"enforce": parsed.Enforce, "audit": parsed.Audit, "warn": parsed.Warn,
		} {
			result := policy.AggregateCheckResults(evaluator.EvaluatePod(level, &pod.Metadata, &pod.Spec))
			if !result.Allowed {
				verdict.Forbidden[mode] = fmt.Sprintf("%s: %s", result.ForbiddenReason(), result.ForbiddenDetail())
			}
		}
		response.Verdicts = append(response.Verdicts, verdict)
	}
	return response, nil
}
