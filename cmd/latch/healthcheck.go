package main

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"
)

func newHealthcheck(e *env) *cobra.Command {
	var ready bool
	var timeout time.Duration
	c := &cobra.Command{
		Use:   "healthcheck",
		Short: "Probe a running latch on LATCH_ADDR: exit 0 if healthy, 1 if not",
		Long: `Probe the latch server listening on LATCH_ADDR (for container health
checks, where the image has no curl): GET /healthz, or /readyz with
--ready. Exit status 0 when it answers 200, 1 otherwise.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := e.loadConfig()
			if err != nil {
				return err
			}
			host, port, err := net.SplitHostPort(cfg.HTTP.Addr)
			if err != nil {
				return err
			}
			if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
				host = "127.0.0.1"
			}
			scheme := "http"
			if cfg.HTTP.TLSCertFile != "" {
				scheme = "https"
			}
			path := "/healthz"
			if ready {
				path = "/readyz"
			}
			client := &http.Client{Timeout: timeout, Transport: &http.Transport{
				// The probe talks to this very server on its own address;
				// the certificate names the public host, not this one.
				TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec
			}}
			url := scheme + "://" + net.JoinHostPort(host, port) + path
			resp, err := client.Get(url)
			if err != nil {
				fmt.Fprintf(e.stderr, "unhealthy: %v\n", err)
				return errSilent
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				fmt.Fprintf(e.stderr, "unhealthy: %s answered %d\n", path, resp.StatusCode)
				return errSilent
			}
			fmt.Fprintf(e.stdout, "healthy: %s answered 200\n", path)
			return nil
		},
	}
	c.Flags().BoolVar(&ready, "ready", false, "probe /readyz (database and keys) instead of /healthz")
	c.Flags().DurationVar(&timeout, "timeout", 3*time.Second, "give up after this long")
	return c
}
