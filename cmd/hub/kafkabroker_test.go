package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// kafkaBrokerEnv, set to 1, makes the test binary a Kafka-protocol broker
// (TestMain calls runKafkaBroker): kfake has no command of its own, and the
// replica tests need the broker in a process apart from the hubs they kill.
const kafkaBrokerEnv = "HUB_TEST_KAFKA_BROKER"

// kafkaBrokerReady prefixes the line the broker prints with its address.
const kafkaBrokerReady = "kafka broker listening on "

// runKafkaBroker serves one kfake broker on a free loopback port, with
// topics created on first use, prints its address and runs until SIGTERM or
// SIGINT.
func runKafkaBroker() {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DefaultNumPartitions(4), kfake.AllowAutoTopicCreation(),
		kfake.ListenFn(func(network, _ string) (net.Listener, error) { return net.Listen(network, "127.0.0.1:0") }))
	if err != nil {
		fmt.Fprintln(os.Stderr, "kafka broker:", err)
		os.Exit(1)
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	fmt.Println(kafkaBrokerReady + c.ListenAddrs()[0])
	<-stop
	c.Close()
}

// startKafkaBroker runs the test binary as a Kafka broker process and
// returns its address; the broker stops with the test.
func startKafkaBroker(t testing.TB) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), kafkaBrokerEnv+"=1")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	dieWithTest(cmd)
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() })
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), kafkaBrokerReady); ok {
				addr <- a
			}
		}
	}()
	select {
	case a := <-addr:
		return a
	case <-time.After(60 * time.Second):
		t.Fatal("the Kafka broker process did not start")
		return ""
	}
}
