// Package imagescmd is `ckslab images`: which images a lab would run, and
// whether they can be had on this machine.
package imagescmd

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ckslab/ckslab/internal/cli"
	"github.com/ckslab/ckslab/internal/docker"
	"github.com/ckslab/ckslab/internal/images"
)

// NewCommand returns `ckslab images`.
func NewCommand(streams cli.IOStreams) *cobra.Command {
	var mode string
	var check bool
	c := &cobra.Command{
		Use:   "images",
		Short: "Show the image set a lab runs on; with --check, whether this machine can have it",
		Long: `Show the image set a lab runs on: public (kind's node image and Docker Hub's nginx and
httpd, pulled on demand) or local (built on this machine with make images).

With --check, make sure the set can be used here: for the public set, the node image is
pulled (this fails at once on a machine with no container registry); for the local set,
every image must be in the Docker engine. Exit code 0 when it can, 1 when it cannot.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, err := images.ModeFrom(mode, os.Getenv)
			if err != nil {
				return &cli.UsageError{Err: fmt.Errorf("--images: %w", err)}
			}
			var opts []images.Option
			var engine *docker.Engine
			if check {
				engine, err = docker.Ensure(cmd.Context(), docker.Options{Logger: cli.NewLogger(streams.ErrOut, 0)})
				if err != nil {
					return err
				}
				opts = append(opts, images.WithInspector(engine))
			}
			set, err := images.Resolve(cmd.Context(), m, opts...)
			if err != nil {
				return err
			}
			fmt.Fprintf(streams.Out, "image set: %s\n", set.Name)
			for _, row := range [][2]string{{"node", set.Node}, {"nginx", set.Nginx}, {"httpd", set.Httpd}, {"terminal", set.Terminal}} {
				fmt.Fprintf(streams.Out, "  %-9s %s\n", row[0]+":", row[1])
			}
			if check && set.Mode == images.Public {
				if err := engine.Pull(cmd.Context(), set.Node); err != nil {
					return fmt.Errorf("the public image set cannot be pulled here: %s", firstLine(err.Error()))
				}
				fmt.Fprintln(streams.Out, "The node image is here; the workload images are pulled by the cluster when it starts them.")
			} else if check {
				fmt.Fprintln(streams.Out, "Every image of the set is in the Docker engine.")
			}
			return nil
		},
	}
	c.Flags().StringVar(&mode, "images", "", "image set: public or local (default: $CKSLAB_IMAGES, else public)")
	c.Flags().BoolVar(&check, "check", false, "check that this machine can use the set (pulls the public node image)")
	_ = c.RegisterFlagCompletionFunc("images", cobra.FixedCompletions([]string{"public", "local"}, cobra.ShellCompDirectiveNoFileComp))
	return c
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
