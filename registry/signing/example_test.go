package signing_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/wardenmcp/warden/registry/signing"
)

// A plugin author creates a key pair and signs a module; the operator trusts
// the public key for that plugin and verifies every load.
func Example() {
	dir, err := os.MkdirTemp("", "warden-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	// warden plugin keygen --out dev.key
	key := filepath.Join(dir, "dev.key")
	if err := signing.WriteKeyPair(key, false); err != nil {
		log.Fatal(err)
	}

	// warden plugin sign --key dev.key hello.wasm
	module := []byte("\x00asm\x01\x00\x00\x00")
	priv, err := os.ReadFile(key)
	if err != nil {
		log.Fatal(err)
	}
	bundle, err := signing.SignBlob(priv, module)
	if err != nil {
		log.Fatal(err)
	}

	// warden.yaml:
	//   trust:
	//     - plugins: [hello]
	//       key: dev.key.pub
	policy, err := signing.ParsePolicy([]byte("- plugins: [hello]\n  key: dev.key.pub\n"))
	if err != nil {
		log.Fatal(err)
	}
	v, err := signing.NewVerifier(policy, signing.WithBaseDir(dir))
	if err != nil {
		log.Fatal(err)
	}
	ev, err := v.VerifyBlob(context.Background(), "hello", module, bundle)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ev.Kind, ev.Policy)

	// One changed byte and the module is refused.
	_, err = v.VerifyBlob(context.Background(), "hello", append(module, 0), bundle)
	fmt.Println(errors.Is(err, signing.ErrArtifactMismatch))
	// A plugin the policy does not name is refused whatever its signature.
	_, err = v.VerifyBlob(context.Background(), "world", module, bundle)
	fmt.Println(err)
	// Output:
	// key trust[0]
	// true
	// no trust policy entry covers plugin "world" (add one to the trust: list of warden.yaml)
}

// The most specific entry applies, whatever the order of the list.
func ExamplePolicy_Select() {
	policy, err := signing.ParsePolicy([]byte(`
- plugins: ["*"]
  keyless: {issuer: https://token.actions.githubusercontent.com,
            identityRegexp: '^https://github\.com/acme/.*$'}
- plugins: [hello]
  key: keys/dev.pub
`))
	if err != nil {
		log.Fatal(err)
	}
	for _, name := range []string{"hello", "weather"} {
		for _, i := range policy.Select(name) {
			fmt.Printf("%s: trust[%d] %s\n", name, i, policy.Entries[i])
		}
	}
	// Output:
	// hello: trust[1] key keys/dev.pub
	// weather: trust[0] keyless identity matching ^https://github\.com/acme/.*$ (issuer https://token.actions.githubusercontent.com)
}

// Policy errors name the entry, the field and the line.
func ExampleParsePolicy() {
	_, err := signing.ParsePolicy([]byte(`
- plugins: ["*"]
  keyless:
    issuer: https://token.actions.githubusercontent.com
    identityRegexp: '^https://github\.com/(acme$'
`))
	fmt.Println(err)
	// Output:
	// trust[0].keyless.identityRegexp (line 5): invalid regexp: error parsing regexp: missing closing ): `^https://github\.com/(acme$`
}
