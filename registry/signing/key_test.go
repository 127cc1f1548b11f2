package signing_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secure-systems-lab/go-securesystemslib/encrypted"

	"github.com/wardenmcp/warden/registry/signing"
)

// keyPair generates a key pair and writes the public key to dir/name.pub.
func keyPair(t *testing.T, dir, name string) (priv []byte, pubPath, fp string) {
	t.Helper()
	priv, pub, err := signing.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	pubPath = filepath.Join(dir, name+".pub")
	if err := os.MkdirAll(filepath.Dir(pubPath), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pubPath, pub, 0o644); err != nil {
		t.Fatal(err)
	}
	fp, err = signing.PublicKeyFingerprint(pub)
	if err != nil {
		t.Fatal(err)
	}
	return priv, pubPath, fp
}

func mustSign(t *testing.T, priv, art []byte, opts ...signing.SignOption) []byte {
	t.Helper()
	b, err := signing.SignBlob(priv, art, opts...)
	if err != nil {
		t.Fatalf("SignBlob: %v", err)
	}
	return b
}

func TestKeyRoundTrip(t *testing.T) {
	dir := t.TempDir()
	priv, _, fp := keyPair(t, dir, "keys/dev")
	v := newVerifier(t, nil, `[{plugins: [hello], key: keys/dev.pub}]`, signing.WithBaseDir(dir))
	b := mustSign(t, priv, artifact)

	var m struct {
		MediaType            string
		VerificationMaterial struct {
			PublicKey   struct{ Hint string }
			TlogEntries []any
		}
		MessageSignature struct {
			MessageDigest struct{ Algorithm, Digest string }
			Signature     string
		}
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m.MediaType != signing.BundleMediaType || m.VerificationMaterial.PublicKey.Hint != fp ||
		m.MessageSignature.MessageDigest.Algorithm != "SHA2_256" || m.MessageSignature.MessageDigest.Digest != b64sha(artifact) ||
		m.MessageSignature.Signature == "" || len(m.VerificationMaterial.TlogEntries) != 0 {
		t.Errorf("bundle = %s", b)
	}

	ev, err := v.VerifyBlob(context.Background(), "hello", artifact, b)
	if err != nil {
		t.Fatalf("VerifyBlob: %v", err)
	}
	if ev.Kind != "key" || ev.Signer != fp || ev.Issuer != "" || ev.Policy != "trust[0]" || ev.Digest != "sha256:"+sha(artifact) || len(ev.Timestamps) != 0 {
		t.Errorf("evidence = %+v", ev)
	}
}

func TestKeyRefusals(t *testing.T) {
	dir := t.TempDir()
	priv, _, fp := keyPair(t, dir, "keys/dev")
	otherPriv, _, otherFP := keyPair(t, dir, "keys/other")
	v := newVerifier(t, nil, `[{plugins: [hello], key: keys/dev.pub}]`, signing.WithBaseDir(dir))
	good := mustSign(t, priv, artifact)

	cases := []struct {
		name     string
		artifact []byte
		bundle   []byte
		kind     error
		want     string
	}{
		{"wrong key", artifact, mustSign(t, otherPriv, artifact), signing.ErrUntrusted,
			`plugin "hello" (trust[0]): signed by key ` + otherFP + `, want the key in keys/dev.pub (` + fp + `)`},
		{"tampered artifact", flip(artifact, 9), good, signing.ErrArtifactMismatch,
			"bundle is for sha256:" + sha(artifact) + ", not for this artifact sha256:" + sha(flip(artifact, 9))},
		{"bundle of another artifact", artifact, mustSign(t, priv, other), signing.ErrArtifactMismatch, "bundle is for sha256:" + sha(other)},
		{"tampered signature", artifact, editBundle(t, good, func(m map[string]any) {
			ms := m["messageSignature"].(map[string]any)
			ms["signature"] = flipB64(t, ms["signature"].(string), 12)
		}), signing.ErrBadSignature, "the signature does not verify with keys/dev.pub (" + fp + "): the artifact or the bundle was modified"},
		{"digest rewritten for other bytes", other, editBundle(t, good, func(m map[string]any) {
			m["messageSignature"].(map[string]any)["messageDigest"].(map[string]any)["digest"] = b64sha(other)
		}), signing.ErrBadSignature, "the signature does not verify"},
		{"other key, hint rewritten", artifact, editBundle(t, mustSign(t, otherPriv, artifact), func(m map[string]any) {
			m["verificationMaterial"].(map[string]any)["publicKey"].(map[string]any)["hint"] = fp
		}), signing.ErrBadSignature, "the signature does not verify with keys/dev.pub"},
		{"wrong key, cosign-style hint", artifact, editBundle(t, mustSign(t, otherPriv, artifact), func(m map[string]any) {
			// cosign writes base64(SHA-256(DER SPKI)) as the hint.
			raw, _ := hex.DecodeString(strings.TrimPrefix(otherFP, "sha256:"))
			m["verificationMaterial"].(map[string]any)["publicKey"].(map[string]any)["hint"] = base64.StdEncoding.EncodeToString(raw)
		}), signing.ErrUntrusted, "signed by key " + otherFP + ", want the key in keys/dev.pub"},
		{"unsigned", artifact, nil, signing.ErrMalformedBundle, "empty bundle"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.VerifyBlob(context.Background(), "hello", tc.artifact, tc.bundle)
			if !errors.Is(err, tc.kind) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v\nwant %v containing %q", err, tc.kind, tc.want)
			}
		})
	}

	// The hint is not authenticated: a bundle whose hint names another key
	// (or nothing useful) still verifies when the signature is by the key.
	for _, hint := range []string{otherFP, "my laptop key", ""} {
		b := editBundle(t, good, func(m map[string]any) {
			m["verificationMaterial"].(map[string]any)["publicKey"].(map[string]any)["hint"] = hint
		})
		if _, err := v.VerifyBlob(context.Background(), "hello", artifact, b); err != nil {
			t.Errorf("hint %q: %v", hint, err)
		}
	}
}

func TestKeyEntryRefusesKeyless(t *testing.T) {
	fs := newFakeSigstore(t, false)
	dir := t.TempDir()
	_, _, fp := keyPair(t, dir, "dev")
	v := newVerifier(t, fs, `[{plugins: [hello], key: dev.pub}]`, signing.WithBaseDir(dir))
	_, err := v.VerifyBlob(context.Background(), "hello", artifact, fs.sign(t, artifact, leaf{identity: acmeWF, issuer: ghIssuer}))
	want := `plugin "hello" (trust[0]): signed keyless by ` + acmeWF + ` (issuer ` + ghIssuer + `), want the key in dev.pub (` + fp + `)`
	if !errors.Is(err, signing.ErrUntrusted) || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
}

func TestKeyTlogRequired(t *testing.T) {
	fs := newFakeSigstore(t, false)
	dir := t.TempDir()
	priv, _, _ := keyPair(t, dir, "dev")
	v := newVerifier(t, fs, `[{plugins: [hello], key: dev.pub, tlogThreshold: 1}]`, signing.WithBaseDir(dir))
	_, err := v.VerifyBlob(context.Background(), "hello", artifact, mustSign(t, priv, artifact))
	if !errors.Is(err, signing.ErrTransparency) || !strings.Contains(err.Error(), "want 1 transparency-log entry") {
		t.Errorf("err = %v, want ErrTransparency", err)
	}
}

// pkcs8 returns k as a PKCS #8 PEM block.
func pkcs8(t *testing.T, k crypto.Signer) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func pubPEM(t *testing.T, k crypto.PublicKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func TestKeyAlgorithms(t *testing.T) {
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	rsa2048, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	sec1, _ := x509.MarshalECPrivateKey(p256)
	cases := []struct {
		name   string
		priv   []byte
		pub    crypto.PublicKey
		digest string
	}{
		{"ECDSA P-384", pkcs8(t, p384), p384.Public(), "SHA2_384"},
		{"ECDSA P-521", pkcs8(t, p521), p521.Public(), "SHA2_512"},
		{"ECDSA P-256 SEC 1", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1}), p256.Public(), "SHA2_256"},
		{"Ed25519", pkcs8(t, ed), ed.Public(), "SHA2_512"},
		{"RSA 2048 PKCS #1", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsa2048)}), rsa2048.Public(), "SHA2_256"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "k.pub"), pubPEM(t, tc.pub), 0o644); err != nil {
				t.Fatal(err)
			}
			v := newVerifier(t, nil, `[{plugins: ["*"], key: k.pub}]`, signing.WithBaseDir(dir))
			b := mustSign(t, tc.priv, artifact)
			if !bytes.Contains(b, []byte(`"algorithm":"`+tc.digest+`"`)) {
				t.Errorf("bundle %s, want digest %s", b, tc.digest)
			}
			ev, err := v.VerifyBlob(context.Background(), "anything", artifact, b)
			if err != nil {
				t.Fatalf("VerifyBlob: %v", err)
			}
			fp, _ := signing.PublicKeyFingerprint(pubPEM(t, tc.pub))
			if ev.Signer != fp {
				t.Errorf("signer %s, want %s", ev.Signer, fp)
			}
			if _, err := v.VerifyBlob(context.Background(), "anything", flip(artifact, 0), b); !errors.Is(err, signing.ErrArtifactMismatch) {
				t.Errorf("tampered: %v", err)
			}
		})
	}
}

func TestEncryptedCosignKey(t *testing.T) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	ct, err := encrypted.EncryptWithCustomKDFParameters(der, []byte("s3cret"), encrypted.Legacy) // cheaper than cosign's default, same format
	if err != nil {
		t.Fatal(err)
	}
	priv := pem.EncodeToMemory(&pem.Block{Type: signing.CosignPrivateKeyPEMType, Bytes: ct})
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "cosign.pub"), pubPEM(t, k.Public()), 0o644); err != nil {
		t.Fatal(err)
	}
	v := newVerifier(t, nil, `[{plugins: ["*"], key: cosign.pub}]`, signing.WithBaseDir(dir))

	b := mustSign(t, priv, artifact, signing.WithPassword([]byte("s3cret")))
	if _, err := v.VerifyBlob(context.Background(), "hello", artifact, b); err != nil {
		t.Fatal(err)
	}
	if _, err := signing.SignBlob(priv, artifact, signing.WithPassword([]byte("wrong"))); err == nil || !strings.Contains(err.Error(), "wrong password") {
		t.Errorf("wrong password: %v", err)
	}
	t.Setenv(signing.PasswordEnv, "s3cret")
	b = mustSign(t, priv, artifact)
	if _, err := v.VerifyBlob(context.Background(), "hello", artifact, b); err != nil {
		t.Fatal(err)
	}
	os.Unsetenv(signing.PasswordEnv)
	if _, err := signing.SignBlob(priv, artifact); err == nil || !strings.Contains(err.Error(), signing.PasswordEnv) {
		t.Errorf("no password: %v", err)
	}
}

func TestSignBlobRefusesBadKeys(t *testing.T) {
	_, pub, _ := signing.GenerateKey()
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	for name, priv := range map[string][]byte{
		"public key":  pub,
		"not PEM":     []byte("hello"),
		"RSA 1024":    pkcs8(t, small),
		"ECDSA P-224": pkcs8(t, p224),
	} {
		if _, err := signing.SignBlob(priv, artifact); err == nil {
			t.Errorf("%s: SignBlob succeeded", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
}

func TestParsePublicKey(t *testing.T) {
	priv, pub, _ := signing.GenerateKey()
	if _, err := signing.ParsePublicKey(pub); err != nil {
		t.Fatal(err)
	}
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	for name, tc := range map[string]struct {
		pem  []byte
		want string
	}{
		"private key": {priv, "this is a private key"},
		"not PEM":     {[]byte("ssh-ed25519 AAAA"), "no PEM block"},
		"RSA 1024":    {pubPEM(t, small.Public()), "too small"},
		"certificate": {pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}}), `unsupported PEM block "CERTIFICATE"`},
	} {
		if _, err := signing.ParsePublicKey(tc.pem); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", name, err, tc.want)
		}
	}
}

func TestWriteKeyPair(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "warden.key")
	if err := signing.WriteKeyPair(path, false); err != nil {
		t.Fatal(err)
	}
	for p, mode := range map[string]os.FileMode{path: 0o600, path + ".pub": 0o644} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != mode {
			t.Errorf("%s: mode %v, want %v", p, st.Mode().Perm(), mode)
		}
	}
	priv, _ := os.ReadFile(path)
	pub, _ := os.ReadFile(path + ".pub")
	if !bytes.HasPrefix(priv, []byte("-----BEGIN PRIVATE KEY-----")) || !bytes.HasPrefix(pub, []byte("-----BEGIN PUBLIC KEY-----")) {
		t.Errorf("key files:\n%s\n%s", priv, pub)
	}
	if err := signing.WriteKeyPair(path, false); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("second WriteKeyPair: %v", err)
	}
	if again, _ := os.ReadFile(path); !bytes.Equal(again, priv) {
		t.Error("the refused WriteKeyPair changed the key")
	}
	// Only the public half left over: still refused, nothing written.
	os.Remove(path)
	if err := signing.WriteKeyPair(path, false); err == nil {
		t.Error("WriteKeyPair over an existing .pub succeeded")
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("private key written despite refusal: %v", err)
	}
	if err := signing.WriteKeyPair(path, true); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(path + ".pub"); bytes.Equal(again, pub) {
		t.Error("overwrite kept the old key")
	}
	// The pair matches: sign with one, verify with the other.
	v := newVerifier(t, nil, `[{plugins: ["*"], key: warden.key.pub}]`, signing.WithBaseDir(dir))
	priv, _ = os.ReadFile(path)
	if _, err := v.VerifyBlob(context.Background(), "x", artifact, mustSign(t, priv, artifact)); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("directory holds %d files, want 2 (no temporary files left)", len(entries))
	}
}

func TestEntrySelection(t *testing.T) {
	fs := newFakeSigstore(t, false)
	dir := t.TempDir()
	devPriv, _, devFP := keyPair(t, dir, "keys/dev")
	newPriv, _, _ := keyPair(t, dir, "keys/new")
	strangerPriv, _, _ := keyPair(t, dir, "keys/stranger")
	// The example from DESIGN.md: "*" first, the specific entry second.
	v := newVerifier(t, fs, `
- plugins: ["*"]
  keyless: {issuer: https://token.actions.githubusercontent.com,
            identityRegexp: '^https://github\.com/acme/.*$'}
- plugins: [hello]
  key: keys/dev.pub
- plugins: [hello, world]
  key: keys/new.pub
- plugins: ["hel*"]
  key: keys/stranger.pub
`, signing.WithBaseDir(dir))
	ctx := context.Background()

	ev, err := v.VerifyBlob(ctx, "hello", artifact, mustSign(t, devPriv, artifact))
	if err != nil || ev.Policy != "trust[1]" || ev.Signer != devFP {
		t.Errorf("hello by dev key: %+v, %v", ev, err)
	}
	ev, err = v.VerifyBlob(ctx, "hello", artifact, mustSign(t, newPriv, artifact))
	if err != nil || ev.Policy != "trust[2]" {
		t.Errorf("hello by new key (rotation): %+v, %v", ev, err)
	}
	// Neither "*" nor "hel*" applies to hello: exact names are more specific.
	_, err = v.VerifyBlob(ctx, "hello", artifact, fs.sign(t, artifact, leaf{identity: acmeWF, issuer: ghIssuer}))
	t.Logf("hello keyless: %v", err)
	var me *signing.MultiError
	if !errors.As(err, &me) || len(me.Errs) != 2 || !errors.Is(err, signing.ErrUntrusted) {
		t.Errorf("hello keyless: %v", err)
	} else if !strings.Contains(err.Error(), "(trust[1]): signed keyless by") || !strings.Contains(err.Error(), "(trust[2]): signed keyless by") {
		t.Errorf("hello keyless: %v", err)
	}
	if _, err := v.VerifyBlob(ctx, "hello", artifact, mustSign(t, strangerPriv, artifact)); !errors.Is(err, signing.ErrUntrusted) {
		t.Errorf("hello by the hel* key: %v", err)
	}
	// helm: "hel*" beats "*".
	if ev, err := v.VerifyBlob(ctx, "helm", artifact, mustSign(t, strangerPriv, artifact)); err != nil || ev.Policy != "trust[3]" {
		t.Errorf("helm: %+v, %v", ev, err)
	}
	// other plugins: only the keyless entry.
	if ev, err := v.VerifyBlob(ctx, "other", artifact, fs.sign(t, artifact, leaf{identity: acmeWF, issuer: ghIssuer})); err != nil || ev.Policy != "trust[0]" {
		t.Errorf("other keyless: %+v, %v", ev, err)
	}
	if _, err := v.VerifyBlob(ctx, "other", artifact, mustSign(t, devPriv, artifact)); !errors.Is(err, signing.ErrUntrusted) {
		t.Errorf("other by dev key: %v", err)
	}
}

func TestMalformedBundles(t *testing.T) {
	dir := t.TempDir()
	priv, _, _ := keyPair(t, dir, "dev")
	v := newVerifier(t, nil, `[{plugins: ["*"], key: dev.pub}]`, signing.WithBaseDir(dir))
	good := mustSign(t, priv, artifact)
	huge := append(append([]byte(nil), good[:len(good)-1]...), []byte(`,"x":"`+strings.Repeat("a", signing.MaxBundleSize)+`"}`)...)
	cases := map[string]struct {
		bundle []byte
		want   string
	}{
		"not JSON":       {[]byte("-----BEGIN SIGNATURE-----"), "not a valid Sigstore bundle"},
		"too large":      {huge, "more than the 1048576 allowed"},
		"old media type": {bytes.Replace(good, []byte("bundle.v0.3+json"), []byte("bundle.v0.9+json"), 1), "not yet supported"},
		"no signature": {editBundle(t, good, func(m map[string]any) {
			delete(m["messageSignature"].(map[string]any), "signature")
		}), "no message signature"},
		"no digest": {editBundle(t, good, func(m map[string]any) {
			delete(m["messageSignature"].(map[string]any), "messageDigest")
		}), "missing verification material"},
		"short digest": {editBundle(t, good, func(m map[string]any) {
			m["messageSignature"].(map[string]any)["messageDigest"].(map[string]any)["digest"] = "AAAA"
		}), "message digest is 3 bytes, want 32"},
		"MD5 digest": {editBundle(t, good, func(m map[string]any) {
			m["messageSignature"].(map[string]any)["messageDigest"].(map[string]any)["algorithm"] = "SHA3_256"
		}), `unsupported message digest algorithm "SHA3_256"`},
		"DSSE attestation": {[]byte(`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"publicKey":{"hint":"x"}},"dsseEnvelope":{"payload":"e30=","payloadType":"application/vnd.in-toto+json","signatures":[{"sig":"AAAA"}]}}`), "DSSE envelope"},
		"no verification material": {editBundle(t, good, func(m map[string]any) {
			delete(m, "verificationMaterial")
		}), "missing verification material"},
	}
	for name, tc := range cases {
		_, err := v.VerifyBlob(context.Background(), "hello", artifact, tc.bundle)
		if !errors.Is(err, signing.ErrMalformedBundle) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v\nwant ErrMalformedBundle containing %q", name, err, tc.want)
		}
	}
}

func TestVerifyBlobContext(t *testing.T) {
	dir := t.TempDir()
	priv, _, _ := keyPair(t, dir, "dev")
	v := newVerifier(t, nil, `[{plugins: ["*"], key: dev.pub}]`, signing.WithBaseDir(dir))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := v.VerifyBlob(ctx, "hello", artifact, mustSign(t, priv, artifact)); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}
