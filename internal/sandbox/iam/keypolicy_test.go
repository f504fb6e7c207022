package iam

import (
	"strings"
	"testing"

	"github.com/jitssh/jitssh/internal/policy"
)

// TestEvaluateKeyPolicy: KMS's rule: the key policy must allow, naming
// the caller (no identity policy needed) or the account (then an identity
// policy must allow too); a deny anywhere wins; conditions on the
// encryption context apply.
func TestEvaluateKeyPolicy(t *testing.T) {
	const keyARN = "arn:aws:kms:us-east-1:123456789012:key/0b6f3c2e-8d4a-4a51-9c1e-5f2d7a9b1c40"
	stmt := func(effect policy.Effect, principal string, cond policy.Condition) policy.Statement {
		return policy.Statement{Effect: effect, Principal: &policy.Principal{AWS: policy.Strings{principal}},
			Action: policy.Strings{"kms:GenerateDataKey"}, Resource: policy.Strings{"*"}, Condition: cond}
	}
	key := func(s ...policy.Statement) policy.Document {
		return policy.Document{Version: policy.Version, Statement: s}
	}
	allowAll := []policy.Document{{Version: policy.Version, Statement: []policy.Statement{{Effect: policy.Allow, Action: policy.Strings{"kms:*"}, Resource: policy.Strings{"*"}}}}}
	denyID := []policy.Document{{Version: policy.Version, Statement: []policy.Statement{{Effect: policy.Deny, Action: policy.Strings{"kms:GenerateDataKey"}, Resource: policy.Strings{keyARN}}}}}
	root := "arn:aws:iam::123456789012:root"
	sessionCond := policy.Condition{"StringLike": {"kms:EncryptionContext:aws:ssm:SessionId": {"${aws:PrincipalTag/userName}-*"}}}
	for _, tc := range []struct {
		name     string
		key      policy.Document
		identity []policy.Document
		ctx      map[string][]string
		want     Decision
	}{
		{"root delegates, identity allows", key(stmt(policy.Allow, root, nil)), allowAll, nil, Allowed},
		{"root delegates, no identity policy", key(stmt(policy.Allow, root, nil)), nil, nil, NoIdentityAllow},
		{"caller's role named", key(stmt(policy.Allow, "arn:aws:iam::123456789012:role/Dev", nil)), nil, nil, Allowed},
		{"someone else named", key(stmt(policy.Allow, "arn:aws:iam::123456789012:role/Other", nil)), allowAll, nil, NoResourceAllow},
		{"key policy denies", key(stmt(policy.Allow, root, nil), stmt(policy.Deny, "*", nil)), allowAll, nil, ExplicitDenyResource},
		{"identity denies", key(stmt(policy.Allow, "*", nil)), denyID, nil, ExplicitDenyIdentity},
		{"context condition holds", key(stmt(policy.Allow, root, sessionCond)), allowAll, map[string][]string{"kms:EncryptionContext:aws:ssm:SessionId": {"alice-0123"}}, Allowed},
		{"context condition fails", key(stmt(policy.Allow, root, sessionCond)), allowAll, map[string][]string{"kms:EncryptionContext:aws:ssm:SessionId": {"bob-0123"}}, NoResourceAllow},
	} {
		req := Request{Principal: aliceP, Action: "kms:GenerateDataKey", Resource: keyARN, Context: tc.ctx}
		got := EvaluateKeyPolicy(req, tc.key, Policies{Identity: tc.identity})
		if got.Decision != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got.Decision, tc.want)
		}
	}
	res := EvaluateKeyPolicy(Request{Principal: aliceP, Action: "kms:GenerateDataKey", Resource: keyARN}, key(stmt(policy.Deny, "*", nil)), Policies{Identity: allowAll})
	if msg := res.KeyMessage(Request{Principal: aliceP, Action: "kms:GenerateDataKey", Resource: keyARN}); !strings.HasSuffix(msg, "on resource: "+keyARN+" with an explicit deny in a resource-based policy") {
		t.Errorf("message %q", msg)
	}
}
