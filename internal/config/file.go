package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"
)

// applyFile sets what the YAML file at path holds. A file that cannot be
// read, is not YAML, or gives a plain setting a mapping is one problem and
// sets nothing.
func applyFile(c *Config, path string, byName map[string]Setting) []string {
	values, err := readFile(path, byName)
	if err != nil {
		return []string{err.Error()}
	}
	var problems []string
	for _, k := range sortedKeys(values) {
		s, ok := byName[k]
		if !ok {
			problems = append(problems, fmt.Sprintf("%s: unknown setting %q", path, k))
			continue
		}
		v := values[k]
		if s.node != nil {
			err = s.node(c, v.node)
		} else {
			err = s.set(c, v.text)
		}
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %s: %v", path, k, err))
		}
	}
	return problems
}

// fileValue is one top-level entry of the file: the YAML node of a
// structured setting, the text of any other.
type fileValue struct {
	node *yaml.Node
	text string
}

// readFile reads a YAML mapping of setting names to values. Scalars (and,
// for comma-separated lists, sequences of scalars) become the text the
// setters understand; a structured setting keeps its node.
func readFile(path string, byName map[string]Setting) (map[string]fileValue, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	var raw map[string]yaml.Node
	if err := yaml.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("config file %s: not valid YAML: %v", path, err)
	}
	out := make(map[string]fileValue, len(raw))
	for k, n := range raw {
		if byName[k].node != nil {
			out[k] = fileValue{node: &n}
			continue
		}
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, fmt.Errorf("config file %s: not valid YAML: %v", path, err)
		}
		switch v := v.(type) {
		case []any:
			parts := make([]string, len(v))
			for i, p := range v {
				parts[i] = fmt.Sprint(p)
			}
			out[k] = fileValue{text: strings.Join(parts, ",")}
		case bool:
			out[k] = fileValue{text: map[bool]string{true: "on", false: "off"}[v]}
		case nil:
			out[k] = fileValue{}
		case map[string]any:
			return nil, fmt.Errorf("config file %s: %s: want a value, not a mapping", path, k)
		default:
			out[k] = fileValue{text: fmt.Sprint(v)}
		}
	}
	return out, nil
}

// listOf declares a setting that is a list of structures of type T, whose
// fields are named by their yaml tags. In the file it is a sequence of
// mappings; in the environment and on the command line it is the same
// list in YAML's flow form, of which JSON is a part:
//
//	LATCH_NAME='[{id: a, issuer: "https://a.example"}]'
//
// A key that names no field of T is a problem, so a misspelt key is
// reported at start instead of silently ignored. The values are checked
// by validate, with the rest of the configuration. Problems name the item
// (from 1) and the key, never a value: items may carry secrets.
func listOf[T any](name, usage string, field func(*Config) *[]T) Setting {
	fromNode := func(c *Config, n *yaml.Node) error {
		items, err := decodeList[T](n)
		if err != nil {
			return err
		}
		*field(c) = items
		return nil
	}
	return Setting{Name: name, Usage: usage, node: fromNode, set: func(c *Config, v string) error {
		if strings.TrimSpace(v) == "" {
			*field(c) = nil
			return nil
		}
		var doc yaml.Node
		if err := yaml.Unmarshal([]byte(v), &doc); err != nil || len(doc.Content) != 1 {
			return errors.New("want a list of mappings in YAML flow form, e.g. [{key: value}]")
		}
		return fromNode(c, doc.Content[0])
	}}
}

// decodeList decodes a sequence of mappings into T values.
func decodeList[T any](n *yaml.Node) ([]T, error) {
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return nil, nil
		}
	case yaml.SequenceNode:
		known := yamlKeys(reflect.TypeFor[T]())
		items := make([]T, 0, len(n.Content))
		for i, item := range n.Content {
			if item.Kind != yaml.MappingNode {
				return nil, fmt.Errorf("item %d: want a mapping of keys to values", i+1)
			}
			for j := 0; j < len(item.Content); j += 2 {
				if k := item.Content[j].Value; !known[k] {
					return nil, fmt.Errorf("item %d: unknown key %q", i+1, k)
				}
			}
			var t T
			if err := item.Decode(&t); err != nil {
				return nil, fmt.Errorf("item %d: a value of the wrong type (line %d)", i+1, item.Line)
			}
			items = append(items, t)
		}
		return items, nil
	}
	return nil, errors.New("want a list of mappings")
}

// yamlKeys are the keys a mapping decoded into struct type t may hold.
func yamlKeys(t reflect.Type) map[string]bool {
	keys := map[string]bool{}
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = strings.ToLower(f.Name) // yaml.v3's default
		}
		keys[name] = true
	}
	return keys
}
