package apis

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/jitssh/jitssh/internal/sandbox/awsproto"
	"github.com/jitssh/jitssh/internal/sandbox/iam"
	"github.com/jitssh/jitssh/internal/sandbox/kms"
)

// serviceKMS is KMS's signing name; its operations are TrentService.*.
const serviceKMS = "kms"

// kmsTargetPrefix is KMS's X-Amz-Target prefix.
const kmsTargetPrefix = "TrentService"

func (h *handler) routeKMS(c *call) (any, error) {
	if h.opts.KMS == nil {
		return nil, awsproto.Errorf("UnknownOperationException", "The sandbox's KMS has no keys; declare them under [[kms_keys]].")
	}
	switch c.op {
	case "GenerateDataKey":
		return h.kmsGenerateDataKey(c)
	case "Decrypt":
		return h.kmsDecrypt(c)
	case "DescribeKey":
		return h.kmsDescribeKey(c)
	}
	return nil, awsproto.Errorf("UnknownOperationException", "Unknown operation %s.%s", kmsTargetPrefix, c.op)
}

// kmsGenerateDataKeyOutput is GenerateDataKey's response; the key
// material never reaches CloudTrail.
type kmsGenerateDataKeyOutput struct {
	CiphertextBlob []byte `json:"CiphertextBlob"`
	KeyID          string `json:"KeyId"`
	Plaintext      []byte `json:"Plaintext"`
}

func (kmsGenerateDataKeyOutput) trailElements() any { return nil }

type kmsDecryptOutput struct {
	KeyID               string `json:"KeyId"`
	Plaintext           []byte `json:"Plaintext"`
	EncryptionAlgorithm string `json:"EncryptionAlgorithm"`
}

func (kmsDecryptOutput) trailElements() any { return nil }

// kmsNotFound turns the service's lookup error into KMS's.
func kmsNotFound(err error) error {
	var nf *kms.NotFoundError
	if errors.As(err, &nf) {
		return awsproto.Errorf("NotFoundException", "%s", nf.Message)
	}
	return err
}

// encryptionContext reads EncryptionContext, a map of strings.
func encryptionContext(in jsonObject) (map[string]string, error) {
	raw := in["EncryptionContext"]
	if isNull(raw) {
		return map[string]string{}, nil
	}
	var m map[string]string
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, serializationError("Expected a map of strings for EncryptionContext.")
	}
	return m, nil
}

// blobParam reads a blob member (base64 in JSON).
func blobParam(in jsonObject, name string) ([]byte, error) {
	raw := in[name]
	if isNull(raw) {
		return nil, nil
	}
	var b []byte
	if err := json.Unmarshal(raw, &b); err != nil {
		return nil, serializationError("Expected a base64 blob for %s.", name)
	}
	return b, nil
}

// authorizeKey decides a KMS action on key k with its key policy and the
// caller's identity policies and the SCPs (iam.EvaluateKeyPolicy),
// recording the decision; the encryption context is in the condition
// keys, as kms:EncryptionContext:KEY and kms:EncryptionContextKeys.
func (h *handler) authorizeKey(c *call, action string, k kms.Key, ctx map[string]string) error {
	keys := map[string][]string{"aws:RequestedRegion": {h.world.Region}}
	for key, v := range ctx {
		keys["kms:EncryptionContext:"+key] = []string{v}
		keys["kms:EncryptionContextKeys"] = append(keys["kms:EncryptionContextKeys"], key)
	}
	req := iam.Request{
		Principal: c.id.Principal(h.world.Account),
		Action:    action,
		Resource:  h.opts.KMS.ARN(k.ID),
		Context:   keys,
		Time:      h.world.Now(),
	}
	res := iam.EvaluateKeyPolicy(req, k.Policy, iam.Policies{Identity: c.id.Policies, SCPs: h.world.SCPs})
	c.authz = append(c.authz, authzRecord{Action: action, Resource: req.Resource, Decision: res.Decision.String(), Sid: res.Sid})
	if res.Allowed() {
		return nil
	}
	return &awsproto.Error{Code: "AccessDeniedException", Message: res.KeyMessage(req)}
}

// kmsGenerateDataKey serves kms:GenerateDataKey: KeyId, KeySpec (AES_128
// or AES_256) or NumberOfBytes (1-1024), EncryptionContext.
func (h *handler) kmsGenerateDataKey(c *call) (any, error) {
	in, err := parseJSONObject(c.body)
	if err != nil {
		return nil, err
	}
	keyID, err := in.str("KeyId")
	if err != nil {
		return nil, err
	}
	spec, err := in.str("KeySpec")
	if err != nil {
		return nil, err
	}
	nBytes, err := in.int("NumberOfBytes")
	if err != nil {
		return nil, err
	}
	encCtx, err := encryptionContext(in)
	if err != nil {
		return nil, err
	}
	var v validation
	if v.required(keyID, "keyId") {
		v.length(keyID, "keyId", 1, 2048)
	}
	if spec != nil && *spec != "AES_256" && *spec != "AES_128" {
		v.fail(spec, "keySpec", "satisfy enum value set: [AES_256, AES_128]")
	}
	if nBytes != nil && *nBytes > 1024 {
		s := fmt.Sprint(*nBytes)
		v.fail(&s, "numberOfBytes", "have value less than or equal to 1024")
	}
	if nBytes != nil && *nBytes < 1 {
		s := fmt.Sprint(*nBytes)
		v.fail(&s, "numberOfBytes", "have value greater than or equal to 1")
	}
	if err := v.err("ValidationException"); err != nil {
		return nil, err
	}
	n := 0
	switch {
	case spec != nil && nBytes != nil:
		return nil, awsproto.Errorf("ValidationException", "Please specify either number of bytes or key spec.")
	case spec == nil && nBytes == nil:
		return nil, awsproto.Errorf("ValidationException", "Please specify either number of bytes or key spec.")
	case spec != nil && *spec == "AES_128":
		n = 16
	case spec != nil:
		n = 32
	default:
		n = int(*nBytes)
	}
	k, err := h.opts.KMS.Resolve(*keyID)
	if err != nil {
		return nil, kmsNotFound(err)
	}
	if err := h.authorizeKey(c, "kms:GenerateDataKey", k, encCtx); err != nil {
		return nil, err
	}
	plain, blob, err := h.opts.KMS.GenerateDataKey(k.ID, n, encCtx)
	if err != nil {
		return nil, err
	}
	return kmsGenerateDataKeyOutput{CiphertextBlob: blob, KeyID: h.opts.KMS.ARN(k.ID), Plaintext: plain}, nil
}

// kmsDecrypt serves kms:Decrypt of a data key's ciphertext blob; KeyId,
// when given, must name the blob's key (IncorrectKeyException).
func (h *handler) kmsDecrypt(c *call) (any, error) {
	in, err := parseJSONObject(c.body)
	if err != nil {
		return nil, err
	}
	blob, err := blobParam(in, "CiphertextBlob")
	if err != nil {
		return nil, err
	}
	keyID, err := in.str("KeyId")
	if err != nil {
		return nil, err
	}
	encCtx, err := encryptionContext(in)
	if err != nil {
		return nil, err
	}
	if len(blob) == 0 || len(blob) > 6144 {
		return nil, awsproto.Errorf("ValidationException", "1 validation error detected: Value at 'ciphertextBlob' failed to satisfy constraint: Member must have length between 1 and 6144")
	}
	id, err := kms.KeyOf(blob)
	if err != nil {
		return nil, &awsproto.Error{Code: "InvalidCiphertextException", Status: http.StatusBadRequest}
	}
	k, err := h.opts.KMS.Resolve(id)
	if err != nil {
		return nil, &awsproto.Error{Code: "InvalidCiphertextException", Status: http.StatusBadRequest}
	}
	if keyID != nil {
		named, err := h.opts.KMS.Resolve(*keyID)
		if err != nil {
			return nil, kmsNotFound(err)
		}
		if named.ID != k.ID {
			return nil, awsproto.Errorf("IncorrectKeyException", "The key ID in the request does not identify a CMK that can perform this operation.")
		}
	}
	if err := h.authorizeKey(c, "kms:Decrypt", k, encCtx); err != nil {
		return nil, err
	}
	plain, err := h.opts.KMS.Decrypt(blob, encCtx)
	if err != nil {
		return nil, &awsproto.Error{Code: "InvalidCiphertextException", Status: http.StatusBadRequest}
	}
	return kmsDecryptOutput{KeyID: h.opts.KMS.ARN(k.ID), Plaintext: plain, EncryptionAlgorithm: "SYMMETRIC_DEFAULT"}, nil
}

// kmsDescribeKey serves kms:DescribeKey (enough for the aws CLI and
// scripts to check a key exists).
func (h *handler) kmsDescribeKey(c *call) (any, error) {
	in, err := parseJSONObject(c.body)
	if err != nil {
		return nil, err
	}
	keyID, err := in.str("KeyId")
	if err != nil {
		return nil, err
	}
	var v validation
	if v.required(keyID, "keyId") {
		v.length(keyID, "keyId", 1, 2048)
	}
	if err := v.err("ValidationException"); err != nil {
		return nil, err
	}
	k, err := h.opts.KMS.Resolve(*keyID)
	if err != nil {
		return nil, kmsNotFound(err)
	}
	if err := h.authorizeKey(c, "kms:DescribeKey", k, nil); err != nil {
		return nil, err
	}
	return map[string]any{"KeyMetadata": map[string]any{
		"AWSAccountId": h.world.Account, "KeyId": k.ID, "Arn": h.opts.KMS.ARN(k.ID),
		"Enabled": true, "KeyState": "Enabled", "KeyUsage": "ENCRYPT_DECRYPT", "KeySpec": "SYMMETRIC_DEFAULT",
		"CustomerMasterKeySpec": "SYMMETRIC_DEFAULT", "KeyManager": "CUSTOMER", "Origin": "AWS_KMS",
		"Description": k.Description, "EncryptionAlgorithms": []string{"SYMMETRIC_DEFAULT"},
		"CreationDate": float64(h.world.Now().Unix()), "MultiRegion": false,
	}}, nil
}

// omitKeyMaterial drops blobs and key material from a KMS request's
// CloudTrail parameters, as CloudTrail does.
func omitKeyMaterial(body []byte) []byte {
	if !bytes.Contains(body, []byte("CiphertextBlob")) && !bytes.Contains(body, []byte("Plaintext")) {
		return body
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return nil
	}
	delete(m, "CiphertextBlob")
	delete(m, "Plaintext")
	out, _ := json.Marshal(m)
	return out
}
