//go:build testtools

// Test-only: built with -tags testtools (upstream(test_tools=True)), left out of the wheel
// and of the program `simulate` and `estimate` build (see main.go).

package main

import (
	"context"
	"fmt"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/admission"
	plugincel "k8s.io/apiserver/pkg/admission/plugin/cel"
	"k8s.io/apiserver/pkg/admission/plugin/policy/validating"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/cel/environment"
)

func init() { commands["evaluate-policy"] = runEvaluatePolicy }

// evaluatePolicyRequest asks what a ValidatingAdmissionPolicy decides for pods being created:
// the policy's variables and validations compiled and evaluated the way kube-apiserver's
// ValidatingAdmissionPolicy plugin does (validating.compilePolicy: the composition environment
// of the base CEL environment, then validating.NewValidator). Matching (matchConstraints and the
// binding's matchResources) is not evaluated: every pod is taken to match.
type evaluatePolicyRequest struct {
	Command string                                            `json:"command"`
	Policy  admissionregistrationv1.ValidatingAdmissionPolicy `json:"policy"`
	Pods    []map[string]any                                  `json:"pods"`
}

type policyVerdict struct {
	Name string `json:"name"`
	// Denied holds the message of every validation the pod fails, or the evaluation error.
	Denied []string `json:"denied"`
}

func runEvaluatePolicy(raw []byte) (any, error) {
	var req evaluatePolicyRequest
	if err := decode(raw, &req); err != nil {
		return nil, err
	}
	validator, err := compileValidatingPolicy(&req.Policy)
	if err != nil {
		return nil, err
	}
	podGVK := schema.GroupVersionKind{Version: "v1", Kind: "Pod"}
	podGVR := schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	verdicts := []policyVerdict{}
	for _, pod := range req.Pods {
		obj := &unstructured.Unstructured{Object: pod}
		attributes := admission.NewAttributesRecord(obj, nil, podGVK, obj.GetNamespace(), obj.GetName(),
			podGVR, "", admission.Create, &metav1.CreateOptions{}, false, &user.DefaultInfo{Name: "test"})
		versioned := &admission.VersionedAttributes{Attributes: attributes, VersionedKind: podGVK, VersionedObject: admission.NewLazyObject(obj)}
		namespace := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: obj.GetNamespace()}}
		result := validator.Validate(context.Background(), podGVR, versioned, nil, namespace, celconfig.RuntimeCELCostBudget, nil)
		verdict := policyVerdict{Name: obj.GetName(), Denied: []string{}}
		for _, decision := range result.Decisions {
			if decision.Action == validating.ActionDeny {
				verdict.Denied = append(verdict.Denied, fmt.Sprintf("%s: %s", decision.Evaluation, decision.Message))
			}
		}
		verdicts = append(verdicts, verdict)
	}
	return map[string]any{"verdicts": verdicts}, nil
}

// compileValidatingPolicy mirrors validating.compilePolicy (unexported, k8s.io/apiserver v0.37
// pkg/admission/plugin/policy/validating/plugin.go) for a policy without params or match
// conditions: a composited compiler over the base CEL environment, then validating.NewValidator.
func compileValidatingPolicy(policy *admissionregistrationv1.ValidatingAdmissionPolicy) (validating.Validator, error) {
	if policy.Spec.ParamKind != nil || len(policy.Spec.MatchConditions) > 0 {
		return nil, fmt.Errorf("policies with params or match conditions are not supported here")
	}
	optionalVars := plugincel.OptionalVariableDeclarations{HasParams: false, HasAuthorizer: true}
	messageVars := plugincel.OptionalVariableDeclarations{HasParams: false, HasAuthorizer: false}
	compiler, err := plugincel.NewCompositedCompiler(environment.MustBaseEnvSet(environment.DefaultCompatibilityVersion()))
	if err != nil {
		return nil, err
	}
	variables := make([]plugincel.NamedExpressionAccessor, len(policy.Spec.Variables))
	for i, v := range policy.Spec.Variables {
		variables[i] = &validating.Variable{Name: v.Name, Expression: v.Expression}
	}
	compiler.CompileAndStoreVariables(variables, optionalVars, environment.StoredExpressions)
	validations := make([]plugincel.ExpressionAccessor, len(policy.Spec.Validations))
	messages := make([]plugincel.ExpressionAccessor, len(policy.Spec.Validations))
	for i, v := range policy.Spec.Validations {
		reason := v.Reason
		validations[i] = &validating.ValidationCondition{Expression: v.Expression, Message: v.Message, Reason: reason}
		if v.MessageExpression != "" {
			messages[i] = &validating.MessageExpressionCondition{MessageExpression: v.MessageExpression}
		}
	}
	return validating.NewValidator(
		compiler.CompileCondition(validations, optionalVars, environment.StoredExpressions),
		nil,
		compiler.CompileCondition(nil, optionalVars, environment.StoredExpressions),
		compiler.CompileCondition(messages, messageVars, environment.StoredExpressions),
		policy.Spec.FailurePolicy,
		nil,
	), nil
}
