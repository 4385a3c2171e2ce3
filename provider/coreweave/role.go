package coreweave

import _ "embed"

// RoleYAML is a namespaced Role granting exactly what the provider does:
// the training rules first, then, in a section of its own, serving's. Bind
// it to the provider's credentials in Config.Namespace. A call that lacks
// one of its permissions fails with PermissionDenied naming the verb, the
// resource and the namespace.
//
//go:embed role.yaml
var RoleYAML []byte
