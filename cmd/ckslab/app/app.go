// Package app is the ckslab command line: Main is the only place that exits,
// Run is what tests call.
package app

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/ckslab/ckslab/cmd/ckslab/app/checklog"
	"github.com/ckslab/ckslab/cmd/ckslab/app/engine"
	"github.com/ckslab/ckslab/cmd/ckslab/app/imagescmd"
	"github.com/ckslab/ckslab/cmd/ckslab/app/labcmd"
	"github.com/ckslab/ckslab/internal/cli"
	"github.com/ckslab/ckslab/internal/version"
)

// Main runs ckslab with the process's arguments and streams and returns the
// exit code.
func Main() int {
	return Run(cli.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}, os.Args[1:])
}

// Run runs ckslab with args and returns the exit code. Errors are printed
// once, here, as one line (no stack traces).
func Run(streams cli.IOStreams, args []string) int {
	// Ctrl-C cancels the command's context: long operations stop cleanly.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := NewRootCommand(streams)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err != nil && err.Error() != "" {
		fmt.Fprintf(streams.ErrOut, "ERROR: %v\n", err)
	}
	return cli.Code(err)
}

// NewRootCommand builds the whole command tree.
func NewRootCommand(streams cli.IOStreams) *cobra.Command {
	root := &cobra.Command{
		Use:   "ckslab",
		Short: "Practise the CKS exam's Falco task in a local lab, and get it graded honestly",
		Long: `ckslab turns a real CKS exam task into a lab on your own machine and grades it
against the truth: the real container ids, Falco's own alerts, the cluster's state.

The first scenario is runtime security with Falco: find the nginx container that
keeps launching package managers and the httpd container that edits /etc/passwd,
save case 1's alerts to /opt/course/2/falco.log, and scale both Deployments to 0.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return &cli.UsageError{Err: fmt.Errorf("unknown command %q (see ckslab --help)", args[0])}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cmd.Help()
		},
	}
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &cli.UsageError{Err: fmt.Errorf("%w (see %s --help)", err, c.CommandPath())}
	})
	root.CompletionOptions.HiddenDefaultCmd = false

	root.AddCommand(
		newVersionCommand(streams),
		checklog.NewCommand(streams),
		engine.NewCommand(streams),
		labcmd.NewScenariosCommand(streams),
		labcmd.NewUpCommand(streams),
		labcmd.NewDownCommand(streams),
		labcmd.NewStatusCommand(streams),
		labcmd.NewShellCommand(streams),
		labcmd.NewSSHCommand(streams),
		labcmd.NewTaskCommand(streams),
		labcmd.NewGradeCommand(streams),
		labcmd.NewHintCommand(streams),
		labcmd.NewSolveCommand(streams),
		labcmd.NewResetCommand(streams),
		imagescmd.NewCommand(streams),
	)
	root.PersistentFlags().IntP("verbosity", "v", 0, "how much to show of what ckslab does (0-3)")
	// Bad arguments are usage errors (exit 2).
	for _, sub := range root.Commands() {
		wrapArgs(sub)
	}
	return root
}

// wrapArgs turns cobra's argument-validation errors into usage errors.
func wrapArgs(c *cobra.Command) {
	if c.Args != nil {
		inner := c.Args
		c.Args = func(cmd *cobra.Command, args []string) error {
			if err := inner(cmd, args); err != nil {
				return &cli.UsageError{Err: fmt.Errorf("%w (see %s --help)", err, cmd.CommandPath())}
			}
			return nil
		}
	}
	for _, sub := range c.Commands() {
		wrapArgs(sub)
	}
}

func newVersionCommand(streams cli.IOStreams) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print ckslab's version",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			_, err := fmt.Fprintln(streams.Out, version.String())
			return err
		},
	}
}
