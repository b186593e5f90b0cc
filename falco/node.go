package falco

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"

	"sigs.k8s.io/kind/pkg/cluster/nodes"
)

// Node runs commands inside a lab node (a kind node container).
type Node interface {
	// String names the node in messages.
	String() string
	// Exec runs argv in the node with stdin (may be nil) and returns its
	// standard output. A failure's error includes the command's output.
	Exec(ctx context.Context, stdin io.Reader, argv ...string) ([]byte, error)
}

// WriteFile writes content to path on the node, making its folder.
func WriteFile(ctx context.Context, n Node, path string, content io.Reader) error {
	_, err := n.Exec(ctx, content, "sh", "-c", `mkdir -p "$(dirname "$1")" && cat > "$1"`, "sh", path)
	return err
}

// KindNode adapts a kind node.
func KindNode(n nodes.Node) Node { return kindNode{n} }

type kindNode struct{ n nodes.Node }

func (k kindNode) String() string { return k.n.String() }

func (k kindNode) Exec(ctx context.Context, stdin io.Reader, argv ...string) ([]byte, error) {
	var stdout, stderr bytes.Buffer
	cmd := k.n.CommandContext(ctx, argv[0], argv[1:]...).SetStdout(&stdout).SetStderr(&stderr)
	if stdin != nil {
		cmd.SetStdin(stdin)
	}
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), &ExecError{Node: k.String(), Argv: argv, Output: strings.TrimSpace(stderr.String() + "\n" + stdout.String()), Err: err}
	}
	return stdout.Bytes(), nil
}

// ExecError keeps the command line and its output.
type ExecError struct {
	Node   string
	Argv   []string
	Output string
	Err    error
}

func (e *ExecError) Error() string {
	msg := fmt.Sprintf("on %s, %q failed: %v", e.Node, strings.Join(e.Argv, " "), e.Err)
	if e.Output != "" {
		out := e.Output
		if len(out) > 2000 {
			out = "…" + out[len(out)-2000:]
		}
		msg += "\n" + out
	}
	return msg
}

func (e *ExecError) Unwrap() error { return e.Err }
