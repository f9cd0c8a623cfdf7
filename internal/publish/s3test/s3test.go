// Package s3test runs a real S3-compatible server on loopback for tests:
// versitygw (github.com/versity/versitygw) on its posix backend, with a data
// folder and root credentials of its own. .ci/run installs it with go
// install at a pinned version; a test that needs it is skipped when it is
// absent, unless CI is set, where its absence fails the test.
package s3test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"go/build"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/logging"
)

// Version is the versitygw release .ci/run installs.
const Version = "v1.8.0"

// Binary finds versitygw on PATH or in GOPATH/bin.
func Binary() (string, bool) {
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p, true
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		gopath = build.Default.GOPATH
	}
	for _, dir := range filepath.SplitList(gopath) {
		p := filepath.Join(dir, "bin", "versitygw")
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, true
		}
	}
	return "", false
}

// Server is a running versitygw.
type Server struct {
	// Endpoint is its URL (http://127.0.0.1:port), Access and Secret its
	// root credentials, Region the region it signs for.
	Endpoint, Access, Secret, Region string

	t    testing.TB
	bin  string
	addr string
	root string
	meta string

	mu  sync.Mutex
	cmd *exec.Cmd
	out *lockedBuffer
}

// Start starts a server on a free loopback port with the given buckets
// created, and stops it when the test ends.
func Start(t testing.TB, buckets ...string) *Server {
	t.Helper()
	bin, ok := Binary()
	if !ok {
		msg := "versitygw not found on PATH or in GOPATH/bin: go install github.com/versity/versitygw/cmd/versitygw@" + Version
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	dir := t.TempDir()
	s := &Server{Access: "jiraducktestaccess", Secret: "jiraduck-test-secret-Zq8WvP3kT", Region: "us-east-1",
		t: t, bin: bin, root: filepath.Join(dir, "data"), meta: filepath.Join(dir, "meta")}
	for _, d := range []string{s.root, s.meta} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var err error
	for range 5 {
		if s.addr, err = freePort(); err != nil {
			continue
		}
		s.Endpoint = "http://" + s.addr
		if err = s.start(); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Kill)
	for _, b := range buckets {
		s.CreateBucket(b)
	}
	return s
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	return addr, ln.Close()
}

func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := &lockedBuffer{}
	cmd := exec.Command(s.bin, "--port", s.addr, "--access", s.Access, "--secret", s.Secret, "--region", s.Region, "--quiet",
		"posix", "--sidecar", s.meta, s.root)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start versitygw: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			s.cmd, s.out = cmd, out
			go func() { <-exited }()
			return nil
		}
		select {
		case err := <-exited:
			return fmt.Errorf("versitygw exited at start (%v): %s", err, out.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			return fmt.Errorf("versitygw did not listen on %s within 20 s: %s", s.addr, out.String())
		}
	}
}

// Kill stops the server at once (SIGKILL), as a crash would.
func (s *Server) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	// Until the port is free again, a restart would fail to bind it.
	for range 100 {
		c, err := net.DialTimeout("tcp", s.addr, 100*time.Millisecond)
		if err != nil {
			break
		}
		c.Close()
		time.Sleep(20 * time.Millisecond)
	}
	s.cmd = nil
}

// Restart starts the server again on the same port and data folder.
func (s *Server) Restart() {
	s.t.Helper()
	var err error
	for range 20 {
		if err = s.start(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.t.Fatal(err)
}

// Client is an S3 client of the server with its root credentials.
func (s *Server) Client() *s3.Client {
	return s3.New(s3.Options{
		Region:       s.Region,
		BaseEndpoint: aws.String(s.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(s.Access, s.Secret, ""),
		// Objects uploaded in parts have no whole-object checksum to check.
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
		Logger:                     logging.Nop{},
	})
}

// CreateBucket creates a bucket.
func (s *Server) CreateBucket(name string) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var err error
	for range 20 {
		_, err = s.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)})
		if err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.t.Fatalf("create bucket %s: %v", name, err)
}

// Objects lists the bucket's keys under prefix with their content's SHA-256,
// read back from the server.
func (s *Server) Objects(bucket, prefix string) map[string]string {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := s.Client()
	out := map[string]string{}
	pages := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			s.t.Fatalf("list %s/%s: %v", bucket, prefix, err)
		}
		for _, o := range page.Contents {
			got, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: o.Key})
			if err != nil {
				s.t.Fatalf("get %s: %v", aws.ToString(o.Key), err)
			}
			out[aws.ToString(o.Key)] = digest(s.t, got.Body)
			got.Body.Close()
		}
	}
	return out
}

// Delete removes an object behind the publisher's back.
func (s *Server) Delete(bucket, key string) {
	s.t.Helper()
	if _, err := s.Client().DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}); err != nil {
		s.t.Fatal(err)
	}
}

// Put writes an object behind the publisher's back.
func (s *Server) Put(bucket, key string, body []byte) {
	s.t.Helper()
	if _, err := s.Client().PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body)}); err != nil {
		s.t.Fatal(err)
	}
}

// Log is what the server printed.
func (s *Server) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.out == nil {
		return ""
	}
	return s.out.String()
}

// lockedBuffer is the server's output, written by its copying goroutine and
// read by Log.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func digest(t testing.TB, r io.Reader) string {
	t.Helper()
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}
