package declarative

import (
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// pathRE picks the field path out of a manifest validation error, such as
// "manifest fedex: operations[0] (track).binding.fan_out.size: ...".
var (
	pathRE    = regexp.MustCompile(`^manifest [a-z0-9_]*: ([a-z_]+(?:\[\d+\])?(?: \([a-z_]+\))?(?:\.[A-Za-z0-9_\-]+(?:\[\d+\])?)*)`)
	segmentRE = regexp.MustCompile(`[A-Za-z0-9_\-]+|\[\d+\]`)
)

// lineOf returns the line of the manifest data that a validation error's path
// points at: the deepest node of the path that exists, else 1.
func lineOf(data []byte, msg string) int {
	m := pathRE.FindStringSubmatch(msg)
	if m == nil {
		return 1
	}
	var root yaml.Node
	if yaml.Unmarshal(data, &root) != nil || len(root.Content) == 0 {
		return 1
	}
	p := regexp.MustCompile(` \([a-z_]+\)`).ReplaceAllString(m[1], "")
	node, line := root.Content[0], root.Content[0].Line
	for _, seg := range segmentRE.FindAllString(p, -1) {
		next := child(node, seg)
		if next == nil {
			break
		}
		node, line = next, next.Line
	}
	return line
}

// lineAt returns the line of the node at path (keys and sequence indexes as
// decimal strings), or of its deepest ancestor that exists.
func lineAt(data []byte, path []string) int {
	var root yaml.Node
	if yaml.Unmarshal(data, &root) != nil || len(root.Content) == 0 {
		return 1
	}
	node, line := root.Content[0], root.Content[0].Line
	for _, seg := range path {
		if _, err := strconv.Atoi(seg); err == nil && node.Kind == yaml.SequenceNode {
			seg = "[" + seg + "]"
		}
		next := child(node, seg)
		if next == nil {
			break
		}
		node, line = next, next.Line
	}
	return line
}

// child returns a mapping's value for key or a sequence's element "[i]".
func child(n *yaml.Node, seg string) *yaml.Node {
	if strings.HasPrefix(seg, "[") {
		i, _ := strconv.Atoi(strings.Trim(seg, "[]"))
		if n.Kind == yaml.SequenceNode && i < len(n.Content) {
			return n.Content[i]
		}
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == seg {
			return n.Content[i+1]
		}
	}
	return nil
}
