package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/lbd-project/lbd/lbd/admin"
	"github.com/lbd-project/lbd/lbd/config"
)

// adminFlags are the client side of the admin API: lbd -drain, -undrain,
// -overrides talk to the running master named by the configuration's
// http_listen (or -admin-url).
type adminFlags struct {
	drain, undrain, url, reason string
	dur                         time.Duration
	list                        bool
}

func (a adminFlags) wanted() bool { return a.drain != "" || a.undrain != "" || a.list }

// adminURL is where the running lbd of cfg listens.
func adminURL(cfg *config.Compiled, override string) (string, error) {
	if override != "" {
		return strings.TrimSuffix(override, "/"), nil
	}
	if cfg.LBD.HTTPListen == "" {
		return "", errors.New("[lbd] http_listen is not set: pass -admin-url")
	}
	host, port, err := net.SplitHostPort(cfg.LBD.HTTPListen)
	if err != nil {
		return "", err
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return "http://" + net.JoinHostPort(host, port), nil
}

// runAdmin performs one admin request and prints its answer.
func runAdmin(cfg *config.Compiled, a adminFlags) int {
	base, err := adminURL(cfg, a.url)
	if err != nil {
		fmt.Fprintln(os.Stderr, "lbd:", err)
		return 2
	}
	client := &http.Client{Timeout: 30 * time.Second}
	if a.list {
		resp, err := client.Get(base + "/overrides")
		if err != nil {
			fmt.Fprintln(os.Stderr, "lbd:", err)
			return 1
		}
		defer resp.Body.Close()
		io.Copy(os.Stdout, resp.Body)
		return 0
	}
	path, target := "/admin/drain", a.drain
	if a.undrain != "" {
		path, target = "/admin/undrain", a.undrain
	}
	alias, member, ok := strings.Cut(target, "/")
	if !ok || alias == "" || member == "" {
		fmt.Fprintf(os.Stderr, "lbd: want ALIAS/MEMBER, not %q\n", target)
		return 2
	}
	token, err := readToken(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "lbd:", err)
		return 2
	}
	req := admin.DrainRequest{Alias: alias, Member: member, Reason: a.reason, Author: os.Getenv("USER")}
	if a.drain != "" {
		req.For = a.dur.String()
	}
	body, _ := json.Marshal(req)
	resp, out, err := postAdmin(client, base+path, token, body)
	if err == nil && resp.StatusCode == http.StatusConflict && out.Owner != "" && out.Owner != base {
		// Sharding: another instance writes the alias's zone; ask it (once).
		fmt.Printf("%s: %s\n", resp.Status, out.Message)
		fmt.Printf("sending it to %s\n", out.Owner)
		resp, out, err = postAdmin(client, out.Owner+path, token, body)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "lbd:", err)
		return 1
	}
	fmt.Printf("%s: %s\n", resp.Status, out.Message)
	if resp.StatusCode != http.StatusOK {
		return 1
	}
	return 0
}

// postAdmin posts body to url with the token and decodes the reply.
func postAdmin(client *http.Client, url, token string, body []byte) (*http.Response, admin.Reply, error) {
	var out admin.Reply
	hr, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, out, err
	}
	hr.Header.Set("Authorization", "Bearer "+token)
	hr.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(hr)
	if err != nil {
		return nil, out, err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return resp, out, fmt.Errorf("%s: %w", resp.Status, err)
	}
	return resp, out, nil
}

// readToken reads the first token of [lbd] admin_token_file.
func readToken(cfg *config.Compiled) (string, error) {
	if cfg.LBD.AdminTokenFile == "" {
		return "", errors.New("[lbd] admin_token_file is not set")
	}
	b, err := os.ReadFile(cfg.TokenPath())
	if err != nil {
		return "", err
	}
	_, first, err := config.ParseTokens(string(b))
	return first, err
}
