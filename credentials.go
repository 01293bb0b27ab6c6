package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// credentialsFile is where vakt writes its own broker account for the installer, in the
// data directory, readable by vakt's user only. The log names the file, never the password.
const credentialsFile = "mqtt-credentials"

// BrokerCredentials are the URL and account that Zigbee2MQTT and rtl_433 may use to reach
// the embedded broker (better: an account of their own under mqtt.broker.accounts).
type BrokerCredentials struct {
	URL, Username, Password string
}

// Format writes the credentials as the file holds them: a comment, then key: value lines.
func (c BrokerCredentials) Format() []byte {
	return fmt.Appendf(nil, "# vakt's embedded MQTT broker; keep this file secret (mode 0600).\n"+
		"# Better: give Zigbee2MQTT and rtl_433 accounts of their own under mqtt.broker.accounts.\n"+
		"url: %s\nusername: %s\npassword: %s\n", c.URL, c.Username, c.Password)
}

// writeCredentials writes c to dir's credentials file unless it already says exactly that,
// readable only by vakt's user, and returns its path. A file of wider mode is made private.
func writeCredentials(dir string, c BrokerCredentials) (string, error) {
	path := filepath.Join(dir, credentialsFile)
	want := c.Format()
	if fi, err := os.Stat(path); err == nil {
		if got, err := os.ReadFile(path); err == nil && bytes.Equal(got, want) {
			if fi.Mode().Perm() != 0o600 {
				if err := os.Chmod(path, 0o600); err != nil {
					return path, fmt.Errorf("broker credentials: %w", err)
				}
			}
			return path, nil
		}
	}
	// Written aside and renamed, so the file is never half written nor, for a moment,
	// readable by others.
	tmp, err := os.CreateTemp(dir, credentialsFile+".*")
	if err != nil {
		return path, fmt.Errorf("broker credentials: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(want); err != nil {
		tmp.Close()
		return path, fmt.Errorf("broker credentials: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return path, fmt.Errorf("broker credentials: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return path, fmt.Errorf("broker credentials: %w", err)
	}
	return path, nil
}

// readCredentials reads dir's credentials file as writeCredentials writes it; ok is false
// when there is none.
func readCredentials(dir string) (c BrokerCredentials, ok bool, err error) {
	path := filepath.Join(dir, credentialsFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, false, nil
	}
	if err != nil {
		return c, false, fmt.Errorf("broker credentials: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, found := strings.Cut(line, ": ")
		switch {
		case !found || strings.HasPrefix(k, "#"):
		case k == "url":
			c.URL = v
		case k == "username":
			c.Username = v
		case k == "password":
			c.Password = v
		}
	}
	if c.URL == "" || c.Username == "" {
		return c, false, fmt.Errorf("broker credentials %s: no url or username in it", path)
	}
	return c, true, nil
}
