"""AWS CDK constructs (the AWS side of the library): Karpenter, GPU sharing, reference cluster."""
