package main

import (
	"context"
	"fmt"
	kubeletcel "github.com/aws/karpenter-provider-aws/pkg/cel"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	v1 "github.com/aws/karpenter-provider-aws/pkg/apis/v1"
	awscache "github.com/aws/karpenter-provider-aws/pkg/cache"
	"github.com/aws/karpenter-provider-aws/pkg/fake"
	"github.com/aws/karpenter-provider-aws/pkg/providers/arczonalshift"
	"github.com/aws/karpenter-provider-aws/pkg/providers/capacityreservation"
	"github.com/aws/karpenter-provider-aws/pkg/providers/instancetype"
	"github.com/aws/karpenter-provider-aws/pkg/providers/placementgroup"
	"github.com/aws/karpenter-provider-aws/pkg/providers/pricing"
	"github.com/aws/karpenter-provider-aws/pkg/providers/subnet"
	"github.com/patrickmn/go-cache"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/karpenter/pkg/cloudprovider"
)

// catalog is eks_gpu_sharing/catalog/gpu_instance_types.json: the library's one source of
// instance facts, here turned into the DescribeInstanceTypes answers EC2 would give.
type catalog struct {
	Source        map[string]string `json:"source"`
	InstanceTypes []catalogEntry    `json:"instanceTypes"`
}

type catalogEntry struct {
	Name            string  `json:"name"`
	Architecture    string  `json:"architecture"`
	VCPUs           int32   `json:"vcpus"`
	MemoryMiB       int64   `json:"memoryMiB"`
	CPUManufacturer *string `json:"cpuManufacturer"`
	Hypervisor      *string `json:"hypervisor"`
	GPU             struct {
		Name         string `json:"name"`
		Manufacturer string `json:"manufacturer"`
		Count        int32  `json:"count"`
		MemoryMiB    int32  `json:"memoryMiB"`
	} `json:"gpu"`
	LocalNvmeGB          *int64   `json:"localNvmeGB"`
	EFAInterfaces        int32    `json:"efaInterfaces"`
	OnDemandPricePerHour *float64 `json:"onDemandPricePerHour"`
}

// defaultRegion is the simulated region unless a request names another: the catalog's.
const defaultRegion = "us-east-1"

// simulatedZones are three zones of the simulated region; every catalog type is offered in each,
// and priced by Karpenter's static on-demand table for the region (a type without a price there
// is unavailable, as in Karpenter before its first price update).
func simulatedZones(region string) []v1.Subnet {
	zones := make([]v1.Subnet, 0, 3)
	for i, suffix := range []string{"a", "b", "c"} {
		zones = append(zones, v1.Subnet{ID: "subnet-simulated-" + suffix, Zone: region + suffix, ZoneID: fmt.Sprintf("%s-az%d", region, i+1)})
	}
	return zones
}

// staticPricesFor reports whether Karpenter's static on-demand table carries prices of its own
// for region: the table falls back to us-east-1's for any other region (pricing.go Reset), where
// the controller reads the AWS Pricing API at run time instead, which the simulator never calls.
func staticPricesFor(cat catalog, region string) bool {
	if region == defaultRegion {
		return true
	}
	theirs := pricing.NewDefaultProvider(&fake.PricingAPI{}, fake.NewEC2API(), region, false)
	fallback := pricing.NewDefaultProvider(&fake.PricingAPI{}, fake.NewEC2API(), defaultRegion, false)
	for _, entry := range cat.InstanceTypes {
		price, ok := theirs.OnDemandPrice(ec2types.InstanceType(entry.Name))
		usEast, usOk := fallback.OnDemandPrice(ec2types.InstanceType(entry.Name))
		if ok != usOk || price != usEast {
			return true
		}
	}
	return false
}

// describeInstanceType is what EC2's DescribeInstanceTypes reports for a catalog entry. Network
// limits come from the provider's own generated VPC limits (instancetype.Limits), not from us.
func describeInstanceType(entry catalogEntry) (ec2types.InstanceTypeInfo, error) {
	limits, ok := instancetype.Limits[entry.Name]
	if !ok {
		return ec2types.InstanceTypeInfo{}, fmt.Errorf("%s: Karpenter's VPC limits do not know this instance type", entry.Name)
	}
	architecture := ec2types.ArchitectureTypeX8664
	if entry.Architecture == "arm64" {
		architecture = ec2types.ArchitectureTypeArm64
	}
	cards := make([]ec2types.NetworkCardInfo, 0, len(limits.NetworkCards))
	for _, card := range limits.NetworkCards {
		cards = append(cards, ec2types.NetworkCardInfo{
			NetworkCardIndex:         aws.Int32(int32(card.NetworkCardIndex)),
			MaximumNetworkInterfaces: aws.Int32(int32(card.MaximumNetworkInterfaces)),
		})
	}
	network := &ec2types.NetworkInfo{
		MaximumNetworkInterfaces:     aws.Int32(int32(limits.Interface)),
		Ipv4AddressesPerInterface:    aws.Int32(int32(limits.IPv4PerInterface)),
		DefaultNetworkCardIndex:      aws.Int32(int32(limits.DefaultNetworkCardIndex)),
		NetworkCards:                 cards,
		EncryptionInTransitSupported: aws.Bool(true),
		EfaSupported:                 aws.Bool(entry.EFAInterfaces > 0),
	}
	if entry.EFAInterfaces > 0 {
		network.EfaInfo = &ec2types.EfaInfo{MaximumEfaInterfaces: aws.Int32(entry.EFAInterfaces)}
	}
	manufacturer := entry.GPU.Manufacturer
	if manufacturer == "nvidia" {
		manufacturer = "NVIDIA" // EC2's spelling, which the provider matches exactly
	}
	info := ec2types.InstanceTypeInfo{
		InstanceType:                 ec2types.InstanceType(entry.Name),
		BareMetal:                    aws.Bool(limits.IsBareMetal),
		Hypervisor:                   ec2types.InstanceTypeHypervisor(limits.Hypervisor),
		SupportedUsageClasses:        fake.DefaultSupportedUsageClasses,
		SupportedVirtualizationTypes: []ec2types.VirtualizationType{ec2types.VirtualizationTypeHvm},
		ProcessorInfo: &ec2types.ProcessorInfo{
			SupportedArchitectures: []ec2types.ArchitectureType{architecture},
			Manufacturer:           entry.CPUManufacturer,
		},
		VCpuInfo:    &ec2types.VCpuInfo{DefaultVCpus: aws.Int32(entry.VCPUs)},
		MemoryInfo:  &ec2types.MemoryInfo{SizeInMiB: aws.Int64(entry.MemoryMiB)},
		NetworkInfo: network,
		GpuInfo: &ec2types.GpuInfo{
			Gpus: []ec2types.GpuDeviceInfo{{
				Name:         aws.String(entry.GPU.Name),
				Manufacturer: aws.String(manufacturer),
				Count:        aws.Int32(entry.GPU.Count),
				MemoryInfo:   &ec2types.GpuDeviceMemoryInfo{SizeInMiB: aws.Int32(entry.GPU.MemoryMiB)},
			}},
			TotalGpuMemoryInMiB: aws.Int32(entry.GPU.MemoryMiB * max(entry.GPU.Count, 1)),
		},
	}
	if entry.LocalNvmeGB != nil {
		info.InstanceStorageInfo = &ec2types.InstanceStorageInfo{
			NvmeSupport:   ec2types.EphemeralNvmeSupportRequired,
			TotalSizeInGB: entry.LocalNvmeGB,
		}
	}
	return info, nil
}

// newInstanceTypeProvider wires the AWS provider's instance-type provider as its controller does,
// over the fake EC2 API answering with the catalog, and the pricing provider's static on-demand
// table (no pricing API): the minimal wiring of the provider's hack/docs/instancetypes_gen.
func newInstanceTypeProvider(ctx context.Context, cat catalog, kubeClient client.Client, region string) (*instancetype.DefaultProvider, error) {
	infos := make([]ec2types.InstanceTypeInfo, 0, len(cat.InstanceTypes))
	var offerings []ec2types.InstanceTypeOffering
	for _, entry := range cat.InstanceTypes {
		info, err := describeInstanceType(entry)
		if err != nil {
			return nil, err
		}
		infos = append(infos, info)
		for _, zone := range simulatedZones(region) {
			offerings = append(offerings, ec2types.InstanceTypeOffering{
				InstanceType: info.InstanceType,
				Location:     aws.String(zone.Zone),
				LocationType: ec2types.LocationTypeAvailabilityZone,
			})
		}
	}
	ec2api := fake.NewEC2API()
	ec2api.DescribeInstanceTypesOutput.Set(&ec2.DescribeInstanceTypesOutput{InstanceTypes: infos})
	ec2api.DescribeInstanceTypeOfferingsOutput.Set(&ec2.DescribeInstanceTypeOfferingsOutput{InstanceTypeOfferings: offerings})
	// The kubelet CEL environment evaluates EC2NodeClass kubelet expressions (new in 1.15).
	celEnv, err := kubeletcel.NewEnvironment()
	if err != nil {
		return nil, err
	}
	newCache := func() *cache.Cache { return cache.New(awscache.DefaultTTL, awscache.DefaultCleanupInterval) }
	provider := instancetype.NewDefaultProvider(
		newCache(),
		newCache(),
		cache.New(awscache.DiscoveredCapacityCacheTTL, awscache.DefaultCleanupInterval),
		ec2api,
		subnet.NewDefaultProvider(ec2api, newCache(), cache.New(awscache.AvailableIPAddressTTL, awscache.DefaultCleanupInterval)),
		pricing.NewDefaultProvider(&fake.PricingAPI{}, ec2api, region, false),
		capacityreservation.NewProvider(ec2api, clock.RealClock{}, newCache(), newCache()),
		placementgroup.NewProvider(ec2api, newCache(), newCache()),
		awscache.NewUnavailableOfferings(),
		instancetype.NewDefaultResolver(region, celEnv),
		arczonalshift.NewNoopProvider(),
		kubeClient,
		celEnv,
	)
	if err := provider.UpdateInstanceTypes(ctx); err != nil {
		return nil, err
	}
	if err := provider.UpdateInstanceTypeOfferings(ctx); err != nil {
		return nil, err
	}
	return provider, nil
}

// withSimulatedStatus gives an EC2NodeClass the status its controller would write once it had
// found the subnets, security groups and AMIs (there is no controller and no AWS here).
func withSimulatedStatus(nodeClass *v1.EC2NodeClass, region string) {
	nodeClass.Status.Subnets = simulatedZones(region)
	nodeClass.Status.SecurityGroups = []v1.SecurityGroup{{ID: "sg-simulated", Name: "simulated"}}
	nodeClass.Status.InstanceProfile = "simulated-" + nodeClass.Name
	nodeClass.StatusConditions().SetTrue(v1.ConditionTypeSubnetsReady)
	nodeClass.StatusConditions().SetTrue(v1.ConditionTypeSecurityGroupsReady)
	nodeClass.StatusConditions().SetTrue(v1.ConditionTypeInstanceProfileReady)
	nodeClass.StatusConditions().SetTrue(v1.ConditionTypeAMIsReady)
	nodeClass.StatusConditions().SetTrue(v1.ConditionTypeValidationSucceeded)
	nodeClass.StatusConditions().SetTrue("Ready")
}

// resolvedInstanceType is one instance type as the provider resolves it for a node class.
type resolvedInstanceType struct {
	Name        string              `json:"name"`
	Labels      map[string][]string `json:"labels"`
	Capacity    map[string]string   `json:"capacity"`
	Overhead    map[string]string   `json:"overhead"`
	Allocatable map[string]string   `json:"allocatable"`
	Offerings   []resolvedOffering  `json:"offerings"`
}

type resolvedOffering struct {
	Zone         string  `json:"zone"`
	CapacityType string  `json:"capacityType"`
	Price        float64 `json:"price"`
	Available    bool    `json:"available"`
}

func describeResolved(it *cloudprovider.InstanceType) resolvedInstanceType {
	labels := map[string][]string{}
	for key, requirement := range it.Requirements {
		values := requirement.Values()
		sort.Strings(values)
		labels[key] = values
	}
	offerings := make([]resolvedOffering, 0, len(it.Offerings))
	for _, offering := range it.Offerings {
		offerings = append(offerings, resolvedOffering{
			Zone:         offering.Zone(),
			CapacityType: offering.CapacityType(),
			Price:        offering.Price,
			Available:    offering.Available,
		})
	}
	sort.Slice(offerings, func(i, j int) bool {
		if offerings[i].Zone != offerings[j].Zone {
			return offerings[i].Zone < offerings[j].Zone
		}
		return offerings[i].CapacityType < offerings[j].CapacityType
	})
	return resolvedInstanceType{
		Name:        it.Name,
		Labels:      labels,
		Capacity:    quantities(it.Capacity),
		Overhead:    quantities(it.Overhead.Total()),
		Allocatable: quantities(it.Allocatable()),
		Offerings:   offerings,
	}
}

func quantities(list corev1.ResourceList) map[string]string {
	out := map[string]string{}
	for name, quantity := range list {
		out[string(name)] = quantity.String()
	}
	return out
}

type instanceTypesRequest struct {
	Command       string            `json:"command"`
	Catalog       catalog           `json:"catalog"`
	NodeClass     map[string]any    `json:"nodeClass"`
	ControllerEnv map[string]string `json:"controllerEnv"`
}

// runInstanceTypes resolves every catalog type for one EC2NodeClass through the provider's own
// code, for the golden test against Karpenter's published instance-types reference.
func runInstanceTypes(raw []byte) (any, error) {
	var req instanceTypesRequest
	if err := decode(raw, &req); err != nil {
		return nil, err
	}
	ctx, _, err := controllerContext(req.ControllerEnv)
	if err != nil {
		return nil, err
	}
	nodeClass := &v1.EC2NodeClass{}
	if err := fromUnstructured(req.NodeClass, nodeClass); err != nil {
		return nil, fmt.Errorf("nodeClass: %w", err)
	}
	withSimulatedStatus(nodeClass, defaultRegion)
	provider, err := newInstanceTypeProvider(ctx, req.Catalog, nil, defaultRegion)
	if err != nil {
		return nil, err
	}
	its, err := provider.List(ctx, nodeClass)
	if err != nil {
		return nil, err
	}
	out := make([]resolvedInstanceType, 0, len(its))
	for _, it := range its {
		out = append(out, describeResolved(it))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return map[string]any{"instanceTypes": out, "modules": moduleVersions()}, nil
}
