package signing_test

// A test-only Sigstore: sigstore-go's VirtualSigstore provides the Fulcio CA,
// the timestamp authority and the Rekor log keys; a second, local Fulcio CA
// issues certificates with arbitrary validity and GitHub extensions, which
// the VirtualSigstore cannot. Both end up in one trusted_root.json, and every
// signature becomes a real Sigstore bundle (JSON) with a Rekor v1 entry
// (inclusion promise and proof) and an RFC 3161 timestamp.

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"
	"github.com/sigstore/sigstore-go/pkg/tlog"
	"google.golang.org/protobuf/encoding/protojson"
)

type fakeSigstore struct {
	vs        *ca.VirtualSigstore
	caKey     *ecdsa.PrivateKey
	inter     *x509.Certificate
	interKey  *ecdsa.PrivateKey
	logID     string // hex
	rootJSON  []byte
	rootPath  string
	logIndex  int64
	withCTLog bool
}

// newFakeSigstore builds the fake deployment and writes its trusted root
// to a temporary file. With ctlog, the root also lists a CT log (so that
// keyless verification requires SCTs by default).
func newFakeSigstore(t testing.TB, ctlog bool) *fakeSigstore {
	t.Helper()
	vs, err := ca.NewVirtualSigstore()
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeSigstore{vs: vs, withCTLog: ctlog, logIndex: 1000}
	now := time.Now()

	// A local Fulcio-like CA valid for the last and next day.
	rootKey := mustKey(t)
	rootTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "test-fulcio-root", Organization: []string{"warden.test"}},
		NotBefore:             now.Add(-24 * time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	rootCert := mustCert(t, rootTmpl, rootTmpl, &rootKey.PublicKey, rootKey)
	f.interKey = mustKey(t)
	f.inter = mustCert(t, &x509.Certificate{
		SerialNumber:          big.NewInt(2),
		Subject:               pkix.Name{CommonName: "test-fulcio-intermediate", Organization: []string{"warden.test"}},
		NotBefore:             now.Add(-24 * time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}, rootCert, &f.interKey.PublicKey, rootKey)
	f.caKey = rootKey

	cas := append(vs.FulcioCertificateAuthorities(), &root.FulcioCertificateAuthority{
		Root:                rootCert,
		Intermediates:       []*x509.Certificate{f.inter},
		ValidityPeriodStart: now.Add(-24 * time.Hour),
		URI:                 "https://fulcio.warden.test",
	})
	// VirtualSigstore's logs carry their hex ID as bytes; a trusted root
	// needs the raw key ID.
	fix := func(in map[string]*root.TransparencyLog) map[string]*root.TransparencyLog {
		out := map[string]*root.TransparencyLog{}
		for id, l := range in {
			cp := *l
			cp.ID, err = hex.DecodeString(id)
			if err != nil {
				t.Fatal(err)
			}
			out[id] = &cp
		}
		return out
	}
	rekor := fix(vs.RekorLogs())
	for id := range rekor {
		f.logID = id
	}
	ct := map[string]*root.TransparencyLog{}
	if ctlog {
		ct = fix(vs.CTLogs())
	}
	tr, err := root.NewTrustedRoot(root.TrustedRootMediaType01, cas, ct, vs.TimestampingAuthorities(), rekor)
	if err != nil {
		t.Fatal(err)
	}
	if f.rootJSON, err = tr.MarshalJSON(); err != nil {
		t.Fatal(err)
	}
	f.rootPath = filepath.Join(t.TempDir(), "trusted_root.json")
	if err := os.WriteFile(f.rootPath, f.rootJSON, 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

func mustKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustCert(t testing.TB, tmpl, parent *x509.Certificate, pub crypto.PublicKey, priv crypto.Signer) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, priv)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// leaf describes a keyless signing certificate and how it is logged.
type leaf struct {
	identity   string // URI if it contains "://", else an email address
	issuer     string
	ext        certificate.Extensions
	notBefore  time.Time // default: a minute ago
	notAfter   time.Time // default: in ten minutes
	noTlog     bool
	noTSA      bool
	integrated time.Time // log integrated time, default now
}

// sign signs artifact with a fresh certificate from the local CA and
// returns the bundle JSON.
func (f *fakeSigstore) sign(t testing.TB, artifact []byte, l leaf) []byte {
	t.Helper()
	now := time.Now()
	if l.notBefore.IsZero() {
		l.notBefore = now.Add(-time.Minute)
	}
	if l.notAfter.IsZero() {
		l.notAfter = now.Add(10 * time.Minute)
	}
	if l.integrated.IsZero() {
		l.integrated = now
	}
	key := mustKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(now.UnixNano()),
		NotBefore:    l.notBefore,
		NotAfter:     l.notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
	}
	if strings.Contains(l.identity, "://") {
		u, err := url.Parse(l.identity)
		if err != nil {
			t.Fatal(err)
		}
		tmpl.URIs = []*url.URL{u}
	} else {
		tmpl.EmailAddresses = []string{l.identity}
	}
	add := func(oid asn1.ObjectIdentifier, v string) {
		if v == "" {
			return
		}
		der, err := asn1.MarshalWithParams(v, "utf8")
		if err != nil {
			t.Fatal(err)
		}
		tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, pkix.Extension{Id: oid, Value: der})
	}
	add(certificate.OIDIssuerV2, l.issuer)
	add(certificate.OIDBuildSignerURI, l.ext.BuildSignerURI)
	add(certificate.OIDRunnerEnvironment, l.ext.RunnerEnvironment)
	add(certificate.OIDSourceRepositoryURI, l.ext.SourceRepositoryURI)
	add(certificate.OIDSourceRepositoryDigest, l.ext.SourceRepositoryDigest)
	add(certificate.OIDSourceRepositoryRef, l.ext.SourceRepositoryRef)
	add(certificate.OIDBuildConfigURI, l.ext.BuildConfigURI)
	add(certificate.OIDBuildTrigger, l.ext.BuildTrigger)
	cert := mustCert(t, tmpl, f.inter, &key.PublicKey, f.interKey)

	digest := sha256.Sum256(artifact)
	sig, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	return f.bundle(t, cert, digest[:], sig, !l.noTSA, !l.noTlog, l.integrated)
}

// signVirtual signs artifact with sigstore-go's VirtualSigstore (an email
// identity, the deprecated issuer extension) and returns the bundle JSON.
func (f *fakeSigstore) signVirtual(t testing.TB, artifact []byte, identity, issuer string) []byte {
	t.Helper()
	ent, err := f.vs.Sign(identity, issuer, artifact)
	if err != nil {
		t.Fatal(err)
	}
	vc, err := ent.VerificationContent()
	if err != nil {
		t.Fatal(err)
	}
	sc, err := ent.SignatureContent()
	if err != nil {
		t.Fatal(err)
	}
	entries, err := ent.TlogEntries()
	if err != nil || len(entries) != 1 {
		t.Fatalf("tlog entries: %v, %v", entries, err)
	}
	msg := sc.MessageSignatureContent()
	return f.bundle(t, vc.Certificate(), msg.Digest(), msg.Signature(), true, true, entries[0].IntegratedTime())
}

// bundle assembles a v0.3 bundle for a message signature by cert.
func (f *fakeSigstore) bundle(t testing.TB, cert *x509.Certificate, digest, sig []byte, tsa, logged bool, integrated time.Time) []byte {
	t.Helper()
	vm := &protobundle.VerificationMaterial{
		Content: &protobundle.VerificationMaterial_Certificate{Certificate: &protocommon.X509Certificate{RawBytes: cert.Raw}},
	}
	if tsa {
		tsr, err := f.vs.TimestampResponse(sig)
		if err != nil {
			t.Fatal(err)
		}
		vm.TimestampVerificationData = &protobundle.TimestampVerificationData{
			Rfc3161Timestamps: []*protocommon.RFC3161SignedTimestamp{{SignedTimestamp: tsr}},
		}
	}
	if logged {
		vm.TlogEntries = []*protorekor.TransparencyLogEntry{f.logEntry(t, cert, digest, sig, integrated)}
	}
	pb := &protobundle.Bundle{
		MediaType:            "application/vnd.dev.sigstore.bundle.v0.3+json",
		VerificationMaterial: vm,
		Content: &protobundle.Bundle_MessageSignature{MessageSignature: &protocommon.MessageSignature{
			MessageDigest: &protocommon.HashOutput{Algorithm: protocommon.HashAlgorithm_SHA2_256, Digest: digest},
			Signature:     sig,
		}},
	}
	out, err := protojson.Marshal(pb)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// logEntry makes a Rekor v1 hashedrekord entry with an inclusion promise
// and proof signed by the VirtualSigstore's log key.
func (f *fakeSigstore) logEntry(t testing.TB, cert *x509.Certificate, digest, sig []byte, integrated time.Time) *protorekor.TransparencyLogEntry {
	t.Helper()
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
	body, err := json.Marshal(map[string]any{
		"apiVersion": "0.0.1",
		"kind":       "hashedrekord",
		"spec": map[string]any{
			"data": map[string]any{"hash": map[string]any{"algorithm": "sha256", "value": hex.EncodeToString(digest)}},
			"signature": map[string]any{
				"content":   base64.StdEncoding.EncodeToString(sig),
				"publicKey": map[string]any{"content": base64.StdEncoding.EncodeToString(certPEM)},
			},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	f.logIndex++
	set, err := f.vs.RekorSignPayload(tlog.RekorPayload{
		Body:           base64.StdEncoding.EncodeToString(body),
		IntegratedTime: integrated.Unix(),
		LogIndex:       f.logIndex,
		LogID:          f.logID,
	})
	if err != nil {
		t.Fatal(err)
	}
	proof, err := f.vs.GetInclusionProof(body)
	if err != nil {
		t.Fatal(err)
	}
	rootHash, err := hex.DecodeString(*proof.RootHash)
	if err != nil {
		t.Fatal(err)
	}
	var hashes [][]byte
	for _, h := range proof.Hashes {
		b, err := hex.DecodeString(h)
		if err != nil {
			t.Fatal(err)
		}
		hashes = append(hashes, b)
	}
	rawID, _ := hex.DecodeString(f.logID)
	return &protorekor.TransparencyLogEntry{
		LogIndex:         f.logIndex,
		LogId:            &protocommon.LogId{KeyId: rawID},
		KindVersion:      &protorekor.KindVersion{Kind: "hashedrekord", Version: "0.0.1"},
		IntegratedTime:   integrated.Unix(),
		InclusionPromise: &protorekor.InclusionPromise{SignedEntryTimestamp: set},
		InclusionProof: &protorekor.InclusionProof{
			LogIndex:   *proof.LogIndex,
			RootHash:   rootHash,
			TreeSize:   *proof.TreeSize,
			Hashes:     hashes,
			Checkpoint: &protorekor.Checkpoint{Envelope: *proof.Checkpoint},
		},
		CanonicalizedBody: body,
	}
}
