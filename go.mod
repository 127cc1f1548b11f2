module github.com/wardenmcp/warden

go 1.26

require (
	github.com/spf13/cobra v1.10.2
	github.com/tetratelabs/wazero v1.12.0
	gopkg.in/yaml.v3 v3.0.1
)

require (
	github.com/inconshreveable/mousetrap v1.1.0 // indirect
	github.com/spf13/pflag v1.0.9 // indirect
	golang.org/x/sys v0.44.0 // indirect
)
