package signing

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"

	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	"github.com/sigstore/sigstore-go/pkg/sign"
	"google.golang.org/protobuf/encoding/protojson"
)

// BundleMediaType is the media type of the bundles SignBlob writes (Sigstore
// bundle v0.3, as `cosign sign-blob --new-bundle-format` writes them).
const BundleMediaType = "application/vnd.dev.sigstore.bundle.v0.3+json"

// SignOption configures SignBlob.
type SignOption func(*signConfig)

type signConfig struct {
	password []byte
	hasPW    bool
}

// WithPassword gives the password of an encrypted (cosign) private key. Without
// it, SignBlob reads the password from the COSIGN_PASSWORD environment
// variable when the key is encrypted.
func WithPassword(password []byte) SignOption {
	return func(c *signConfig) {
		c.password = password
		c.hasPW = true
	}
}

// SignBlob signs artifact with the PEM private key priv and returns a Sigstore
// bundle (JSON, media type BundleMediaType) holding a message signature over
// the artifact, its digest, and as verification material the public key's
// fingerprint (see PublicKeyFingerprint) as hint. The bundle has no
// transparency-log entry or timestamp: it verifies with the matching public
// key under a trust policy "key" entry (or `cosign verify-blob --key KEY.pub
// --bundle … --new-bundle-format --insecure-ignore-tlog`).
//
// priv may be a PKCS #8 "PRIVATE KEY" (as GenerateKey writes), an "EC
// PRIVATE KEY", an "RSA PRIVATE KEY", or a cosign "ENCRYPTED SIGSTORE
// PRIVATE KEY" (see WithPassword). ECDSA P-256, P-384 and P-521 keys sign
// with SHA-256, SHA-384 and SHA-512, RSA keys with PKCS #1 v1.5 and SHA-256,
// and Ed25519 keys with Ed25519ph (SHA-512), as Sigstore specifies for
// message signatures. SignBlob verifies the bundle before returning it.
func SignBlob(priv []byte, artifact []byte, opts ...SignOption) ([]byte, error) {
	var cfg signConfig
	for _, o := range opts {
		o(&cfg)
	}
	signer, err := parsePrivateKey(priv, func() ([]byte, error) {
		if cfg.hasPW {
			return cfg.password, nil
		}
		if pw, ok := os.LookupEnv(PasswordEnv); ok {
			return []byte(pw), nil
		}
		return nil, fmt.Errorf("the private key is encrypted: set %s or pass a password", PasswordEnv)
	})
	if err != nil {
		return nil, err
	}
	kp, err := newKeypair(signer)
	if err != nil {
		return nil, err
	}
	pb, err := sign.Bundle(&sign.PlainData{Data: artifact}, kp, sign.BundleOptions{})
	if err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	out, err := protojson.Marshal(pb)
	if err != nil {
		return nil, err
	}
	// Check the result with the same code that verifies plugins.
	ck, err := compileKeyEntry(-1, signer.Public(), "the signing key")
	if err != nil {
		return nil, err
	}
	v := &Verifier{entries: []*compiledEntry{ck}, maxBundle: MaxBundleSize}
	if _, err := v.verify(context.Background(), "", artifact, out, []*compiledEntry{ck}); err != nil {
		return nil, fmt.Errorf("the new bundle does not verify: %w", err)
	}
	return out, nil
}

// keypair adapts a crypto.Signer to sigstore-go's sign.Keypair.
type keypair struct {
	signer  crypto.Signer
	hash    crypto.Hash // digest algorithm; also the signing hash except for Ed25519ph
	details protocommon.PublicKeyDetails
	hint    string
}

var _ sign.Keypair = (*keypair)(nil)

// newKeypair picks the Sigstore algorithm for the signer's key.
func newKeypair(s crypto.Signer) (*keypair, error) {
	kp := &keypair{signer: s}
	switch k := s.Public().(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			kp.hash, kp.details = crypto.SHA256, protocommon.PublicKeyDetails_PKIX_ECDSA_P256_SHA_256
		case elliptic.P384():
			kp.hash, kp.details = crypto.SHA384, protocommon.PublicKeyDetails_PKIX_ECDSA_P384_SHA_384
		case elliptic.P521():
			kp.hash, kp.details = crypto.SHA512, protocommon.PublicKeyDetails_PKIX_ECDSA_P521_SHA_512
		}
	case *rsa.PublicKey:
		kp.hash = crypto.SHA256
		switch k.N.BitLen() {
		case 2048:
			kp.details = protocommon.PublicKeyDetails_PKIX_RSA_PKCS1V15_2048_SHA256
		case 3072:
			kp.details = protocommon.PublicKeyDetails_PKIX_RSA_PKCS1V15_3072_SHA256
		default:
			kp.details = protocommon.PublicKeyDetails_PKIX_RSA_PKCS1V15_4096_SHA256
		}
	case ed25519.PublicKey:
		kp.hash, kp.details = crypto.SHA512, protocommon.PublicKeyDetails_PKIX_ED25519_PH
	}
	if kp.hash == 0 {
		return nil, fmt.Errorf("unsupported signing key %T", s.Public())
	}
	fp, err := fingerprint(s.Public())
	if err != nil {
		return nil, err
	}
	kp.hint = fp
	return kp, nil
}

func (k *keypair) GetHashAlgorithm() protocommon.HashAlgorithm {
	switch k.hash {
	case crypto.SHA384:
		return protocommon.HashAlgorithm_SHA2_384
	case crypto.SHA512:
		return protocommon.HashAlgorithm_SHA2_512
	}
	return protocommon.HashAlgorithm_SHA2_256
}

func (k *keypair) GetSigningAlgorithm() protocommon.PublicKeyDetails { return k.details }

func (k *keypair) GetHint() []byte { return []byte(k.hint) }

func (k *keypair) GetKeyAlgorithm() string {
	switch k.signer.Public().(type) {
	case *ecdsa.PublicKey:
		return "ECDSA"
	case *rsa.PublicKey:
		return "RSA"
	case ed25519.PublicKey:
		return "ED25519"
	}
	return ""
}

func (k *keypair) GetPublicKey() crypto.PublicKey { return k.signer.Public() }

func (k *keypair) GetPublicKeyPem() (string, error) {
	fp, err := publicKeyPEM(k.signer.Public())
	return string(fp), err
}

// SignData hashes data and signs the digest; it returns the signature and
// the digest.
func (k *keypair) SignData(_ context.Context, data []byte) ([]byte, []byte, error) {
	h := k.hash.New()
	h.Write(data)
	digest := h.Sum(nil)
	var opts crypto.SignerOpts = k.hash
	if _, ok := k.signer.Public().(ed25519.PublicKey); ok {
		opts = &ed25519.Options{Hash: crypto.SHA512}
	}
	sig, err := k.signer.Sign(rand.Reader, digest, opts)
	if err != nil {
		return nil, nil, err
	}
	return sig, digest, nil
}

// publicKeyPEM encodes pub as a PKIX "PUBLIC KEY" PEM block.
func publicKeyPEM(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: PublicKeyPEMType, Bytes: der}), nil
}
