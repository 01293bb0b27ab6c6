package hub

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const nonceChildEnv = "VAKT_NONCE_CHILD_STORE"

// A nonce used just before a kill -9 is still used after it: the replay memory of signed
// commands is in the store, committed before the command is carried out.
func TestStore_NonceSurvivesKill(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	if path := os.Getenv(nonceChildEnv); path != "" {
		// The child: use the nonce, say so, and wait to be killed.
		s, err := OpenStore(path, 0)
		if err != nil {
			fmt.Println("error:", err)
			return
		}
		if err := s.UseNonce("mqtt/home", "disarm-0001", now, 10*time.Minute, 16); err != nil {
			fmt.Println("error:", err)
			return
		}
		fmt.Println("used")
		time.Sleep(time.Minute)
		return
	}
	path := filepath.Join(t.TempDir(), "vakt.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestStore_NonceSurvivesKill$")
	cmd.Env = append(os.Environ(), nonceChildEnv+"="+path)
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "used" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child: %q %v", line, err)
	}
	cmd.Process.Kill() // SIGKILL: no clean shutdown
	cmd.Wait()

	s, err := OpenStore(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.UseNonce("mqtt/home", "disarm-0001", now.Add(5*time.Second), 10*time.Minute, 16); !errors.Is(err, ErrNonceUsed) {
		t.Fatalf("nonce after kill -9: %v, want ErrNonceUsed", err)
	}
	// Another signer's nonces are its own.
	if err := s.UseNonce("mqtt/other", "disarm-0001", now.Add(5*time.Second), 10*time.Minute, 16); err != nil {
		t.Fatalf("same nonce, other scope: %v", err)
	}
}

func TestStore_NonceMemory(t *testing.T) {
	s, err := OpenStore(filepath.Join(t.TempDir(), "vakt.db"), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Unix(1_700_000_000, 0)
	const mem, max = 10 * time.Minute, 3
	for i := range max {
		if err := s.UseNonce("a", fmt.Sprintf("n%d", i), now, mem, max); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.UseNonce("a", "n9", now, mem, max); !errors.Is(err, ErrNoncesFull) {
		t.Fatalf("full: %v, want ErrNoncesFull", err)
	}
	if err := s.UseNonce("a", "n0", now.Add(time.Minute), mem, max); !errors.Is(err, ErrNonceUsed) {
		t.Fatalf("replay: %v, want ErrNonceUsed", err)
	}
	// After the memory, old nonces are forgotten and make room.
	if err := s.UseNonce("a", "n9", now.Add(mem), mem, max); err != nil {
		t.Fatalf("after the memory: %v", err)
	}
	if err := s.UseNonce("a", "n0", now.Add(mem), mem, max); err != nil {
		t.Fatalf("n0 after the memory: %v", err)
	}
}
