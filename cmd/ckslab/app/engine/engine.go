// Package engine is `ckslab engine`: make sure the Docker engine the lab
// needs answers, or stop one that ckslab started.
package engine

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ckslab/ckslab/internal/cli"
	"github.com/ckslab/ckslab/internal/docker"
)

// NewCommand returns the engine command and its subcommands.
func NewCommand(streams cli.IOStreams) *cobra.Command {
	c := &cobra.Command{
		Use:   "engine",
		Short: "Start the Docker engine the lab needs, or stop one ckslab started",
		Long: `ckslab needs a Docker engine. "ckslab engine start" checks that one answers; when none
runs, it starts dockerd itself if it may (as root, with no init system managing Docker),
and otherwise says the exact command to run. "ckslab engine stop" stops a dockerd that
ckslab started, and never one it did not start.`,
		Args: cobra.NoArgs,
	}
	c.AddCommand(&cobra.Command{
		Use:   "start",
		Short: "Make sure a Docker engine answers, starting dockerd when none runs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			e, err := docker.Ensure(cmd.Context(), docker.Options{Logger: cli.NewLogger(streams.ErrOut, 0)})
			if err != nil {
				return err
			}
			how := "already running"
			if e.Started {
				how = "started by ckslab; stop it with: ckslab engine stop"
			}
			_, err = fmt.Fprintf(streams.Out, "Docker engine %s (%s): %s\n", e.ServerVersion, e.Host, how)
			return err
		},
	})
	c.AddCommand(&cobra.Command{
		Use:   "stop",
		Short: "Stop the dockerd that ckslab started (a dockerd it did not start is left alone)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			stopped, err := docker.StopStarted(cmd.Context(), docker.Options{Logger: cli.NewLogger(streams.ErrOut, 0)})
			if err != nil {
				return err
			}
			msg := "No Docker engine started by ckslab is running; nothing to stop."
			if stopped {
				msg = "Stopped the Docker engine ckslab had started."
			}
			_, err = fmt.Fprintln(streams.Out, msg)
			return err
		},
	})
	return c
}
