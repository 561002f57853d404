package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	awsoptions "github.com/aws/karpenter-provider-aws/pkg/operator/options"
	coreoptions "sigs.k8s.io/karpenter/pkg/operator/options"
)

// controllerContext parses Karpenter's options the way the controller does at start-up (core and
// AWS flag sets, each flag defaulted from its environment variable) with exactly the environment
// given: the container env of the rendered Karpenter Deployment, so FEATURE_GATES (NodeOverlay),
// VM_MEMORY_OVERHEAD_PERCENT, RESERVED_ENIS and the rest are what the chart deploys.
func controllerContext(env map[string]string) (context.Context, *coreoptions.Options, error) {
	saved := os.Environ()
	defer restoreEnv(saved)
	os.Clearenv()
	for _, name := range sortedKeys(env) {
		if err := os.Setenv(name, env[name]); err != nil {
			return nil, nil, err
		}
	}
	core := &coreoptions.Options{}
	coreFlags := &coreoptions.FlagSet{FlagSet: flag.NewFlagSet("karpenter", flag.ContinueOnError)}
	core.AddFlags(coreFlags)
	if err := core.Parse(coreFlags); err != nil {
		return nil, nil, fmt.Errorf("Karpenter rejects its options: %w", err)
	}
	aws := &awsoptions.Options{}
	awsFlags := &coreoptions.FlagSet{FlagSet: flag.NewFlagSet("karpenter-aws", flag.ContinueOnError)}
	aws.AddFlags(awsFlags)
	if err := aws.Parse(awsFlags); err != nil {
		return nil, nil, fmt.Errorf("Karpenter's AWS provider rejects its options: %w", err)
	}
	ctx := coreoptions.ToContext(context.Background(), core)
	ctx = awsoptions.ToContext(ctx, aws)
	return ctx, core, nil
}

func restoreEnv(saved []string) {
	os.Clearenv()
	for _, entry := range saved {
		for i := 0; i < len(entry); i++ {
			if entry[i] == '=' {
				_ = os.Setenv(entry[:i], entry[i+1:])
				break
			}
		}
	}
}
