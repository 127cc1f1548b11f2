package signing

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/secure-systems-lab/go-securesystemslib/encrypted"
)

// PEM block types this package reads and writes.
const (
	// PrivateKeyPEMType is the PEM type of an unencrypted PKCS #8 private
	// key, as GenerateKey writes it.
	PrivateKeyPEMType = "PRIVATE KEY"
	// PublicKeyPEMType is the PEM type of a PKIX public key, as GenerateKey
	// and cosign write it.
	PublicKeyPEMType = "PUBLIC KEY"
	// CosignPrivateKeyPEMType is the PEM type of a private key encrypted by
	// cosign (scrypt and NaCl secretbox over PKCS #8), readable by SignBlob
	// with a password.
	CosignPrivateKeyPEMType = "ENCRYPTED SIGSTORE PRIVATE KEY"
	// legacyCosignPrivateKeyPEMType is what cosign wrote before v2.
	legacyCosignPrivateKeyPEMType = "ENCRYPTED COSIGN PRIVATE KEY"
)

// PasswordEnv is the environment variable SignBlob reads the password of an
// encrypted (cosign) private key from when no WithPassword option is given;
// it is cosign's own variable.
const PasswordEnv = "COSIGN_PASSWORD"

// maxKeyFileSize caps key files read from disk.
const maxKeyFileSize = 64 << 10

// GenerateKey generates an ECDSA P-256 key pair for signing plugins and
// returns the private key as an unencrypted PKCS #8 "PRIVATE KEY" PEM block
// and the public key as a PKIX "PUBLIC KEY" PEM block.
func GenerateKey() (priv, pub []byte, err error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	privDER, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, nil, err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(k.Public())
	if err != nil {
		return nil, nil, err
	}
	priv = pem.EncodeToMemory(&pem.Block{Type: PrivateKeyPEMType, Bytes: privDER})
	pub = pem.EncodeToMemory(&pem.Block{Type: PublicKeyPEMType, Bytes: pubDER})
	return priv, pub, nil
}

// WriteKeyPair generates a key pair with GenerateKey and writes the private
// key to path (mode 0600) and the public key to path+".pub" (mode 0644).
// Each file is written to a temporary file in the same directory and then
// moved into place, so that a crash never leaves a partial key. Unless
// overwrite is true, it refuses to replace an existing file (checked before
// anything is written, and again atomically when each file is put in place).
func WriteKeyPair(path string, overwrite bool) error {
	pubPath := path + ".pub"
	if !overwrite {
		for _, p := range []string{path, pubPath} {
			if _, err := os.Lstat(p); err == nil {
				return fmt.Errorf("%s already exists (refusing to overwrite a key)", p)
			} else if !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
	}
	priv, pub, err := GenerateKey()
	if err != nil {
		return err
	}
	if err := writeFileAtomic(path, priv, 0o600, overwrite); err != nil {
		return err
	}
	if err := writeFileAtomic(pubPath, pub, 0o644, overwrite); err != nil {
		if !overwrite {
			// Do not leave a private key without its public half.
			_ = os.Remove(path)
		}
		return err
	}
	return nil
}

// writeFileAtomic writes data to a temporary file next to path, syncs it,
// sets perm and moves it to path. Without overwrite the move is a hard link,
// which fails if path exists.
func writeFileAtomic(path string, data []byte, perm os.FileMode, overwrite bool) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		_ = os.Remove(tmp)
	}()
	if err := f.Chmod(perm); err != nil {
		_ = f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if overwrite {
		err = os.Rename(tmp, path)
	} else {
		err = os.Link(tmp, path)
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s already exists (refusing to overwrite a key)", path)
		}
	}
	if err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// PublicKeyFingerprint returns the fingerprint of a PEM public key:
// "sha256:" followed by the hex SHA-256 of its DER SubjectPublicKeyInfo. It
// is the key's name in evidence, lockfiles and error messages, and the hint
// SignBlob writes into bundles.
func PublicKeyFingerprint(pubPEM []byte) (string, error) {
	pub, err := ParsePublicKey(pubPEM)
	if err != nil {
		return "", err
	}
	return fingerprint(pub)
}

// ParsePublicKey parses a PEM "PUBLIC KEY" (PKIX) block, or an "RSA PUBLIC
// KEY" (PKCS #1) block, and checks that the key is one this package
// verifies with: ECDSA P-256, P-384 or P-521, Ed25519, or RSA of at least
// 2048 bits.
func ParsePublicKey(pubPEM []byte) (crypto.PublicKey, error) {
	block, _ := pem.Decode(pubPEM)
	if block == nil {
		return nil, errors.New("no PEM block found (want a PEM \"PUBLIC KEY\")")
	}
	var pub crypto.PublicKey
	var err error
	switch block.Type {
	case PublicKeyPEMType:
		pub, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		pub, err = x509.ParsePKCS1PublicKey(block.Bytes)
	case PrivateKeyPEMType, "EC PRIVATE KEY", "RSA PRIVATE KEY", CosignPrivateKeyPEMType, legacyCosignPrivateKeyPEMType:
		return nil, fmt.Errorf("this is a private key (PEM %q); give the public key (the .pub file)", block.Type)
	default:
		return nil, fmt.Errorf("unsupported PEM block %q (want \"PUBLIC KEY\")", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("parsing public key: %w", err)
	}
	if err := checkKey(pub); err != nil {
		return nil, err
	}
	return pub, nil
}

// checkKey refuses key types and sizes this package does not verify with.
func checkKey(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
			return nil
		}
		return fmt.Errorf("unsupported ECDSA curve %s", k.Curve.Params().Name)
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return fmt.Errorf("RSA key of %d bits is too small (want at least 2048)", k.N.BitLen())
		}
		return nil
	case ed25519.PublicKey:
		return nil
	}
	return fmt.Errorf("unsupported public key type %T", pub)
}

// fingerprint returns "sha256:<hex of DER SPKI>".
func fingerprint(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(der)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// parsePrivateKey parses a PEM private key: PKCS #8 "PRIVATE KEY", SEC 1
// "EC PRIVATE KEY", PKCS #1 "RSA PRIVATE KEY", or a cosign-encrypted key,
// decrypted with the password password returns.
func parsePrivateKey(privPEM []byte, password func() ([]byte, error)) (crypto.Signer, error) {
	block, _ := pem.Decode(privPEM)
	if block == nil {
		return nil, errors.New("no PEM block found (want a PEM \"PRIVATE KEY\")")
	}
	var key any
	var err error
	switch block.Type {
	case PrivateKeyPEMType:
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case CosignPrivateKeyPEMType, legacyCosignPrivateKeyPEMType:
		pw, perr := password()
		if perr != nil {
			return nil, perr
		}
		der, derr := encrypted.Decrypt(block.Bytes, pw)
		if derr != nil {
			return nil, fmt.Errorf("decrypting the cosign private key (wrong password?): %w", derr)
		}
		key, err = x509.ParsePKCS8PrivateKey(der)
	case PublicKeyPEMType:
		return nil, errors.New("this is a public key; signing needs the private key")
	default:
		return nil, fmt.Errorf("unsupported PEM block %q (want \"PRIVATE KEY\")", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("parsing private key: %w", err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("unsupported private key type %T", key)
	}
	if err := checkKey(signer.Public()); err != nil {
		return nil, err
	}
	return signer, nil
}

// readCapped reads at most limit bytes of the file at path, failing if it
// is larger.
func readCapped(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, limit)
	}
	return data, nil
}
