package plugins

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Tool is one tool as the plugin declared it, checked at load.
type Tool struct {
	Name         string
	Title        string
	Description  string
	InputSchema  json.RawMessage
	OutputSchema json.RawMessage // nil when the tool declares none
	Annotations  json.RawMessage // nil when the tool declares none
	// TaskSupport is the definition's execution.taskSupport: whether the
	// tool may, must or must not run as an MCP task. TaskForbidden when
	// absent.
	TaskSupport TaskSupport
	// Definition is the whole MCP Tool object, as declared.
	Definition json.RawMessage
}

// TaskSupport says whether a tool may, must or must not run as an MCP task.
type TaskSupport string

// The values of a tool definition's execution.taskSupport (MCP 2025-11-25).
const (
	TaskForbidden TaskSupport = "forbidden"
	TaskOptional  TaskSupport = "optional"
	TaskRequired  TaskSupport = "required"
)

// Limits on what a plugin may declare. They keep a hostile tool list from
// costing the host memory or CPU at load and in every tools/list.
const (
	MaxTools            = 512
	MaxToolNameLen      = 128
	MaxDescriptionBytes = 8 << 10
	MaxSchemaBytes      = 64 << 10
	MaxSchemaDepth      = 32
)

var toolNameRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*$`)

// knownMetaSchemas are the $schema values a validator has built in; any
// other value could make a schema library fetch a document.
var knownMetaSchemas = map[string]bool{
	"https://json-schema.org/draft/2020-12/schema": true,
	"https://json-schema.org/draft/2019-09/schema": true,
	"http://json-schema.org/draft-07/schema#":      true,
	"http://json-schema.org/draft-07/schema":       true,
	"http://json-schema.org/draft-04/schema#":      true,
}

type rawTool struct {
	Name         string          `json:"name"`
	Title        string          `json:"title"`
	Description  string          `json:"description"`
	InputSchema  json.RawMessage `json:"inputSchema"`
	OutputSchema json.RawMessage `json:"outputSchema"`
	Annotations  json.RawMessage `json:"annotations"`
	Execution    json.RawMessage `json:"execution"`
}

// parseToolList decodes a ListToolsResult and checks every tool.
func parseToolList(out []byte) ([]Tool, error) {
	var list struct {
		Tools []json.RawMessage `json:"tools"`
	}
	if err := json.Unmarshal(out, &list); err != nil {
		return nil, fmt.Errorf("the tool list is not a JSON object {\"tools\": [...]}: %w", err)
	}
	if len(list.Tools) > MaxTools {
		return nil, fmt.Errorf("the plugin declares %d tools; at most %d are allowed", len(list.Tools), MaxTools)
	}
	tools := make([]Tool, 0, len(list.Tools))
	seen := map[string]bool{}
	for i, def := range list.Tools {
		t, err := checkTool(def)
		if err != nil {
			return nil, fmt.Errorf("tool %d: %w", i, err)
		}
		if seen[t.Name] {
			return nil, fmt.Errorf("tool %d: the name %q is declared twice", i, t.Name)
		}
		seen[t.Name] = true
		tools = append(tools, t)
	}
	return tools, nil
}

func checkTool(def json.RawMessage) (Tool, error) {
	var rt rawTool
	if err := json.Unmarshal(def, &rt); err != nil {
		return Tool{}, fmt.Errorf("not an MCP Tool object: %w", err)
	}
	if err := CheckToolName(rt.Name); err != nil {
		return Tool{}, err
	}
	if len(rt.Description) > MaxDescriptionBytes {
		return Tool{}, fmt.Errorf("tool %q: description is %d bytes; at most %d are allowed", rt.Name, len(rt.Description), MaxDescriptionBytes)
	}
	if len(bytes.TrimSpace(rt.InputSchema)) == 0 || string(rt.InputSchema) == "null" {
		return Tool{}, fmt.Errorf("tool %q: inputSchema is missing (want a JSON Schema object with \"type\": \"object\")", rt.Name)
	}
	if err := CheckSchema(rt.InputSchema, true); err != nil {
		return Tool{}, fmt.Errorf("tool %q: inputSchema: %w", rt.Name, err)
	}
	if len(rt.OutputSchema) > 0 && string(rt.OutputSchema) != "null" {
		if err := CheckSchema(rt.OutputSchema, true); err != nil {
			return Tool{}, fmt.Errorf("tool %q: outputSchema: %w", rt.Name, err)
		}
	} else {
		rt.OutputSchema = nil
	}
	if len(rt.Annotations) > 0 && string(rt.Annotations) != "null" {
		var a map[string]any
		if err := json.Unmarshal(rt.Annotations, &a); err != nil {
			return Tool{}, fmt.Errorf("tool %q: annotations are not a JSON object: %w", rt.Name, err)
		}
	} else {
		rt.Annotations = nil
	}
	ts, err := checkExecution(rt.Execution)
	if err != nil {
		return Tool{}, fmt.Errorf("tool %q: %w", rt.Name, err)
	}
	return Tool{
		Name: rt.Name, Title: rt.Title, Description: rt.Description,
		InputSchema: rt.InputSchema, OutputSchema: rt.OutputSchema, Annotations: rt.Annotations,
		TaskSupport: ts,
		Definition:  append(json.RawMessage(nil), def...),
	}, nil
}

// checkExecution reads a tool definition's "execution" object (absent or
// null means none) and returns its taskSupport, TaskForbidden when absent.
func checkExecution(raw json.RawMessage) (TaskSupport, error) {
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return TaskForbidden, nil
	}
	var exec map[string]json.RawMessage
	if err := json.Unmarshal(raw, &exec); err != nil || exec == nil {
		var v any
		json.Unmarshal(raw, &v)
		return "", fmt.Errorf("execution is %s; want a JSON object such as {\"taskSupport\": \"optional\"}", describeJSON(v))
	}
	ts, ok := exec["taskSupport"]
	if !ok || string(bytes.TrimSpace(ts)) == "null" {
		return TaskForbidden, nil
	}
	var v any
	if err := json.Unmarshal(ts, &v); err != nil {
		return "", fmt.Errorf("execution.taskSupport is not JSON: %w", err)
	}
	str, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("execution.taskSupport is %s; want forbidden, optional or required", describeJSON(v))
	}
	switch s := TaskSupport(str); s {
	case TaskForbidden, TaskOptional, TaskRequired:
		return s, nil
	}
	return "", fmt.Errorf("execution.taskSupport is %q; want forbidden, optional or required", str)
}

// CheckToolName reports whether name is usable as a tool name: 1–128
// characters of [A-Za-z0-9_.-], not starting with '.' or '-'.
func CheckToolName(name string) error {
	if name == "" {
		return errors.New("tool name is empty")
	}
	if len(name) > MaxToolNameLen {
		return fmt.Errorf("tool name %.40q… is %d characters; at most %d are allowed", name, len(name), MaxToolNameLen)
	}
	if !toolNameRE.MatchString(name) {
		return fmt.Errorf("tool name %q has characters outside [A-Za-z0-9_.-] or starts with '.' or '-'", name)
	}
	return nil
}

// CheckSchema checks a JSON Schema a plugin declared: bounded size and depth,
// an object at the top (with "type": "object" when topObject is set), and no
// reference that leaves the document. Schema libraries resolve "$ref",
// "$id" and "$schema" through loaders that may read files or URLs, so a
// plugin could otherwise read host files through validation errors.
func CheckSchema(schema json.RawMessage, topObject bool) error {
	if len(schema) > MaxSchemaBytes {
		return fmt.Errorf("the schema is %d bytes; at most %d are allowed", len(schema), MaxSchemaBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(schema))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	if dec.More() {
		return errors.New("trailing data after the schema")
	}
	top, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("want a JSON object, found %s", jsonKind(v))
	}
	if topObject {
		if t, _ := top["type"].(string); t != "object" {
			return fmt.Errorf("want \"type\": \"object\" at the top, found %s", describeJSON(top["type"]))
		}
	}
	return walkSchema(v, "", 0)
}

func walkSchema(v any, path string, depth int) error {
	if depth > MaxSchemaDepth {
		return fmt.Errorf("nested deeper than %d levels at %s", MaxSchemaDepth, orRoot(path))
	}
	switch x := v.(type) {
	case map[string]any:
		for k, child := range x {
			p := path + "/" + k
			switch k {
			case "$ref", "$dynamicRef", "$recursiveRef":
				s, ok := child.(string)
				if !ok || !strings.HasPrefix(s, "#") {
					return fmt.Errorf("%s is %s; only local references (\"#...\") are allowed", p, describeJSON(child))
				}
			case "$id":
				return fmt.Errorf("%s is set; schema identifiers are not allowed (they change how references resolve)", p)
			case "$schema":
				s, _ := child.(string)
				if !knownMetaSchemas[s] {
					return fmt.Errorf("%s is %s; want one of the JSON Schema draft URIs or nothing", p, describeJSON(child))
				}
			}
			if err := walkSchema(child, p, depth+1); err != nil {
				return err
			}
		}
	case []any:
		for i, child := range x {
			if err := walkSchema(child, fmt.Sprintf("%s/%d", path, i), depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

func orRoot(p string) string {
	if p == "" {
		return "the top"
	}
	return p
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number, float64:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

func describeJSON(v any) string {
	if v == nil {
		return "missing"
	}
	if s, ok := v.(string); ok {
		return fmt.Sprintf("%q", s)
	}
	return jsonKind(v)
}
