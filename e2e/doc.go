// Package e2e runs the reference pipeline of examples/quickstart end to end
// on the real providers' test parts instead of in-memory providers. It has
// no code of its own beside this comment; its tests are the point:
//
//   - TestPipelineOnAzure runs the whole pipeline through one mlops.Client
//     over an Azure Machine Learning Workspace (provider/azure), whose
//     Resource Manager and key vault are the contract server of package
//     azuretest and whose storage is Azurite: a restricted dataset in
//     westeurope, training as an Azure ML command job (the test plays the
//     workspace's scheduler), the model registered from the job inheriting
//     the EU constraint, approval by a second principal after the trainer
//     is refused, a canary rollout 10% → 50% → 100% on a managed online
//     endpoint with a health check between steps, and denials for training
//     and serving in eastus, a second workspace there.
//   - TestPipelineAcrossClouds keeps the datasets, the registry and serving
//     on that Workspace and trains on the CoreWeave provider
//     (provider/coreweave) against the real kube-apiserver that make test
//     starts (internal/kubetest), the provider holding only its documented
//     Role and coreweavetest.Controller playing the Job controller, in
//     EU-SOUTH-03 on 8 H100 GPUs. The dataset reaches the Job as a
//     short-lived SAS from Azurite that lives in the Job's Secret alone;
//     the same job aimed at US-EAST-04 is denied, naming the dataset and its
//     rule.
//
// Both check what the quickstart checks: the impact of the dataset names
// the live deployment through the job and the model, the audit log
// verifies its HMAC chain, and no SAS, bearer token, account key or secret
// value appears in an error, an audit record or a lineage event.
//
// The tests need Azurite, and the second one the API server too: without
// them they skip, or fail under TIDELINE_INTEGRATION=required, as make test
// sets (see internal/testenv).
package e2e
