package capabilities

import (
	"strings"
	"testing"
)

// lintText lints a grant body (after hdr and a plugin line, with all three
// main limits set so that only the body's findings show) and renders it.
func lintText(t *testing.T, body string) string {
	t.Helper()
	g := mustGrant(t, "plugin: p\n"+body)
	var b strings.Builder
	if err := WriteFindings(&b, "g.yaml", Lint(g)); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

const quietLimits = "limits: {memory: 64MiB, timeout: 10s, output: 1MiB}\n"

func TestLint(t *testing.T) {
	tests := []struct{ name, body, want string }{
		{"clean grant", quietLimits + "network:\n  allow: [{host: api.github.com}]\n", ""},
		{"missing limits", "", `
g.yaml: info: limits: not set, so the host defaults apply: memory 64MiB, timeout 10s, output 1MiB`},
		{"partly missing limits", "limits: {memory: 32MiB}\n", `
g.yaml:4: info: limits: not set, so the host defaults apply: timeout 10s, output 1MiB`},
		{"large limits", "limits: {memory: 512MiB, timeout: 2m, output: 1MiB, httpResponse: 1GiB, taskTimeout: 48h}\n", `
g.yaml:4: warning: limits.httpResponse: 1GiB is above the host ceiling and will be lowered to 256MiB
g.yaml:4: info: limits.memory: 512MiB is large; check that the plugin needs it
g.yaml:4: warning: limits.taskTimeout: 48h is above the host ceiling and will be lowered to 24h
g.yaml:4: info: limits.timeout: 2m is large; check that the plugin needs it`},
		{"memory not whole pages", "limits: {memory: 100000, timeout: 10s, output: 1MiB}\n", `
g.yaml:4: info: limits.memory: 100kB is not a whole number of 64KiB WebAssembly pages; the cap is 2 pages (128KiB)`},
		{"wildcard", quietLimits + "network:\n  allow:\n    - host: '*.github.com'\n", `
g.yaml:7: warning: network.allow[0].host: *.github.com matches every name under github.com, including ones that do not exist yet; list the hosts the plugin needs if you can`},
		{"plaintext http", quietLimits + "network:\n  allow:\n    - host: a.com\n      schemes: [https, http]\n", `
g.yaml:8: warning: network.allow[0].schemes[1]: http: plaintext, so traffic (including any credentials the plugin sends) can be read and changed in transit; prefer https`},
		{"private network allowed on a name", quietLimits + "network:\n  allow:\n    - host: a.com\n      privateNetwork: allow\n", `
g.yaml:8: warning: network.allow[0].privateNetwork: allow: if a.com resolves to a loopback, private or cloud-metadata address the plugin may connect to it; DNS can point a public name at internal services`},
		{"local http service", quietLimits + "network:\n  allow:\n    - {host: 127.0.0.1, ports: [8080], schemes: [http], privateNetwork: allow}\n", `
g.yaml:7: info: network.allow[0].privateNetwork: allow: 127.0.0.1 is a local address
g.yaml:7: info: network.allow[0].schemes[0]: http: plaintext, to a local address`},
		{"metadata endpoint", quietLimits + "network:\n  allow:\n    - {host: 169.254.169.254, schemes: [http], privateNetwork: allow}\n", `
g.yaml:7: error: network.allow[0].privateNetwork: allow on 169.254.169.254, a cloud metadata endpoint that hands out the host's credentials
g.yaml:7: info: network.allow[0].schemes[0]: http: plaintext, to a local address`},
		{"private address denied", quietLimits + "network:\n  allow:\n    - host: 10.1.2.3\n    - host: localhost\n", `
g.yaml:7: warning: network.allow[0].host: 10.1.2.3 is not a public address and privateNetwork is deny, so this rule never lets a connection through; add privateNetwork: allow if that is intended
g.yaml:8: warning: network.allow[1].host: localhost is not a public address and privateNetwork is deny, so this rule never lets a connection through; add privateNetwork: allow if that is intended`},
		{"rw mount", quietLimits + "filesystem:\n  - host: /srv/out\n    guest: /out\n    mode: rw\n", `
g.yaml:8: warning: filesystem[0].mode: rw: the plugin can create, change and delete files under /srv/out`},
		{"root mount", quietLimits + "filesystem:\n  - {host: /, guest: /host}\n", `
g.yaml:6: error: filesystem[0].host: / exposes /: the whole host filesystem`},
		{"etc mount", quietLimits + "filesystem:\n  - {host: /etc, guest: /etc}\n", `
g.yaml:6: error: filesystem[0].host: /etc exposes /etc: host configuration, including password hashes and keys`},
		{"inside etc", quietLimits + "filesystem:\n  - {host: /etc/ssl/certs, guest: /certs}\n", `
g.yaml:6: warning: filesystem[0].host: /etc/ssl/certs is inside /etc: host configuration, including password hashes and keys`},
		{"docker socket", quietLimits + "filesystem:\n  - {host: /var/run/docker.sock, guest: /docker.sock}\n", `
g.yaml:6: error: filesystem[0].host: /var/run/docker.sock exposes /var/run/docker.sock: the Docker socket, which is root on the host`},
		{"parent of docker socket", quietLimits + "filesystem:\n  - {host: /var/run, guest: /run}\n", `
g.yaml:6: error: filesystem[0].host: /var/run exposes /var/run/containerd: the containerd socket, which is root on the host
g.yaml:6: error: filesystem[0].host: /var/run exposes /var/run/docker.sock: the Docker socket, which is root on the host
g.yaml:6: error: filesystem[0].host: /var/run exposes /var/run/secrets: Kubernetes service-account tokens`},
		{"proc", quietLimits + "filesystem:\n  - {host: /proc/self, guest: /p}\n", `
g.yaml:6: error: filesystem[0].host: /proc/self is inside /proc: the kernel's view of every process, including their environments`},
		{"home directory", quietLimits + "filesystem:\n  - {host: /home/alice, guest: /home}\n", `
g.yaml:6: warning: filesystem[0].host: /home/alice is inside /home: user home directories, with their SSH keys and cloud credentials`},
		{"ssh directory", quietLimits + "filesystem:\n  - {host: /srv/app/.ssh, guest: /keys}\n", `
g.yaml:6: error: filesystem[0].host: /srv/app/.ssh is a credential store (.ssh)`},
		{"users home", quietLimits + "filesystem:\n  - {host: /Users/alice, guest: /h}\n", `
g.yaml:6: error: filesystem[0].host: /Users/alice is a home directory, with SSH keys, cloud credentials and shell history; mount a project directory instead`},
		{"secret shown in output", quietLimits + "secrets:\n  - name: TOKEN\n    from: env:T\n    redactOutput: false\n", `
g.yaml:8: warning: secrets[0].redactOutput: false: the value of TOKEN can appear in tool output, and so in the client's conversation and logs`},
		{"secret file inside a mount", quietLimits + "filesystem:\n  - {host: /run/app, guest: /app}\nsecrets:\n  - {name: K, from: 'file:/run/app/key'}\n", `
g.yaml:8: warning: secrets[0].from: /run/app/key is also readable through the mount filesystem[0] (/app), together with anything next to it`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := lintText(t, tt.body)
			want := strings.TrimPrefix(tt.want, "\n")
			if want != "" {
				want += "\n"
			}
			if got != want {
				t.Errorf("got\n%s\nwant\n%s", got, want)
			}
		})
	}
}

func TestLintPluginMissing(t *testing.T) {
	g := mustGrant(t, quietLimits)
	fs := Lint(g)
	if len(fs) != 1 || fs[0].Severity != SeverityWarning || fs[0].Field != "plugin" || fs[0].Line != 0 {
		t.Fatalf("got %+v", fs)
	}
	if HasErrors(fs) {
		t.Error("HasErrors")
	}
	if Lint(nil) != nil {
		t.Error("Lint(nil)")
	}
}

func TestWriteFindingsOrder(t *testing.T) {
	fs := []Finding{
		{Severity: SeverityInfo, Field: "b", Line: 2, Message: "z"},
		{Severity: SeverityWarning, Field: "b", Line: 2, Message: "y"},
		{Severity: SeverityError, Field: "b", Line: 2, Message: "x"},
		{Severity: SeverityInfo, Field: "a", Line: 2, Message: "w"},
		{Severity: SeverityInfo, Field: "", Line: 0, Message: "first"},
	}
	var b strings.Builder
	if err := WriteFindings(&b, "p.yaml", fs); err != nil {
		t.Fatal(err)
	}
	want := "p.yaml: info: first\np.yaml:2: info: a: w\np.yaml:2: error: b: x\np.yaml:2: warning: b: y\np.yaml:2: info: b: z\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	if fs[0].Message != "z" {
		t.Error("WriteFindings reordered its argument")
	}
	if !HasErrors(fs) {
		t.Error("HasErrors")
	}
}
