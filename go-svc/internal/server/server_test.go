package server

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	labv1 "github.com/benchlab/go-svc/gen/lab/v1"
	"github.com/benchlab/go-svc/internal/config"
)

type running struct {
	httpAddr, grpcAddr string
	// cancel is the first signal, skipDelay the second.
	cancel    context.CancelFunc
	skipDelay func()
	done      chan error
}

// testConfig is the default configuration on free loopback ports.
func testConfig() config.Config {
	return config.Config{HTTPAddr: "127.0.0.1:0", GRPCAddr: "127.0.0.1:0", LogLevel: slog.LevelWarn,
		DrainTimeout: 10 * time.Second, HeaderReadTimeout: 10 * time.Second}
}

func start(t *testing.T, cfg config.Config) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	skip := make(chan struct{})
	r := &running{cancel: cancel, skipDelay: sync.OnceFunc(func() { close(skip) }), done: make(chan error, 1)}
	pr, pw := io.Pipe()
	go func() {
		err := run(ctx, cfg, skip, pw)
		pw.Close()
		r.done <- err
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		cancel()
		t.Fatalf("reading the ready line: %v (run: %v)", err, <-r.done)
	}
	go io.Copy(io.Discard, pr)
	if _, err := fmt.Sscanf(line, "listening http=%s grpc=%s\n", &r.httpAddr, &r.grpcAddr); err != nil {
		t.Fatalf("ready line %q: %v", line, err)
	}
	t.Cleanup(func() {
		cancel()
		r.skipDelay()
		select {
		case <-r.done:
		case <-time.After(10 * time.Second):
			t.Error("server did not stop")
		}
	})
	return r
}

// wait returns run's result, failing the test after a timeout.
func (r *running) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-r.done:
		r.done <- err // for the cleanup
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return")
		return nil
	}
}

func pollHealth(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("health never ok: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitClosed waits until addr refuses connections: the drain has begun.
func waitClosed(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return
		}
		c.Close()
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("%s still accepts connections", addr)
}

// startSlowEcho sends the headers and half of an echo body, and returns once
// the handler is reading the body (it asked for the rest: 100 Continue).
func startSlowEcho(t *testing.T, addr, body string) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	fmt.Fprintf(conn, "POST /v1/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: %d\r\n\r\n", len(body))
	br := bufio.NewReader(conn)
	status, err := br.ReadString('\n')
	if err != nil || !strings.Contains(status, "100 Continue") {
		t.Fatalf("interim response %q, %v", status, err)
	}
	if _, err := br.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(conn, body[:len(body)/2]); err != nil {
		t.Fatal(err)
	}
	return conn, br
}

func TestRunServesAndDrains(t *testing.T) {
	r := start(t, testConfig())
	pollHealth(t, r.httpAddr)

	// h2c with prior knowledge on the same port.
	resp, err := h2cClient().Get("http://" + r.httpAddr + "/v1/users/1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.ProtoMajor != 2 || resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" || !strings.Contains(string(body), `"User 1"`) {
		t.Fatalf("h2c: %s %d %q %s", resp.Proto, resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}

	// gRPC: health for "" and each service, and a call.
	conn, err := grpc.NewClient(r.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	hc := healthpb.NewHealthClient(conn)
	for _, svc := range []string{"", "lab.v1.UserService", "lab.v1.CatalogService", "lab.v1.OrderService", "lab.v1.EchoService"} {
		hr, err := hc.Check(t.Context(), &healthpb.HealthCheckRequest{Service: svc})
		if err != nil || hr.Status != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("health %q: %v %v", svc, hr, err)
		}
	}
	if u, err := labv1.NewUserServiceClient(conn).GetUser(t.Context(), &labv1.GetUserRequest{Id: 1}); err != nil || u.Age != 63 {
		t.Fatalf("GetUser: %v %v", u, err)
	}
	checkReflection(t, conn)
	resp, err = http.Get("http://" + r.httpAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`grpc_requests_total{code="OK",method="/lab.v1.UserService/GetUser"} 1`,
		`grpc_request_duration_seconds_count{code="OK",method="/lab.v1.UserService/GetUser"} 1`,
		`http_requests_total{method="GET",route="/v1/users/{id}",status="200"} 1`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}

	// In flight when the drain starts: an HTTP body half written, and a gRPC
	// stream mid-conversation.
	echoBody := `"` + strings.Repeat("x", 64<<10) + `"`
	httpConn, br := startSlowEcho(t, r.httpAddr, echoBody)
	stream, err := labv1.NewEchoServiceClient(conn).EchoStream(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	ping := func(p string) {
		t.Helper()
		if err := stream.Send(&labv1.EchoRequest{Payload: []byte(p)}); err != nil {
			t.Fatal(err)
		}
		if resp, err := stream.Recv(); err != nil || string(resp.Payload) != p {
			t.Fatalf("pong %q: %v %v", p, resp, err)
		}
	}
	ping("before")

	r.cancel()
	waitClosed(t, r.httpAddr)
	waitClosed(t, r.grpcAddr)

	ping("during")
	if err := stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); !errors.Is(err, io.EOF) {
		t.Fatalf("stream end: %v", err)
	}

	if _, err := io.WriteString(httpConn, echoBody[len(echoBody)/2:]); err != nil {
		t.Fatal(err)
	}
	resp, err = http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(got) != echoBody {
		t.Fatalf("in-flight echo: %d, %d bytes", resp.StatusCode, len(got))
	}

	if err := r.wait(t); err != nil {
		t.Fatalf("run = %v, want nil after a clean drain", err)
	}
}

// h2cClient speaks HTTP/2 with prior knowledge, without TLS.
func h2cClient() *http.Client {
	return &http.Client{Transport: &http2.Transport{
		AllowHTTP: true,
		DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}}
}

// checkReflection lists services through server reflection v1, as grpcurl does.
func checkReflection(t *testing.T, conn *grpc.ClientConn) {
	t.Helper()
	stream, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer stream.CloseSend()
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{
		MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{},
	}); err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, s := range resp.GetListServicesResponse().GetService() {
		names[s.GetName()] = true
	}
	for _, want := range []string{"lab.v1.UserService", "lab.v1.CatalogService", "lab.v1.OrderService", "lab.v1.EchoService", "grpc.health.v1.Health"} {
		if !names[want] {
			t.Errorf("reflection lacks %s (has %v)", want, names)
		}
	}
}

func TestDrainTimeout(t *testing.T) {
	cfg := testConfig()
	cfg.DrainTimeout = 200 * time.Millisecond
	r := start(t, cfg)
	pollHealth(t, r.httpAddr)
	startSlowEcho(t, r.httpAddr, `"never finished"`)
	began := time.Now()
	r.cancel()
	err := r.wait(t)
	if err == nil {
		t.Fatal("run = nil, want a drain timeout error")
	}
	if took := time.Since(began); took > 5*time.Second {
		t.Fatalf("drain took %v", took)
	}
}

// TestRequestsOnNewConnectionsAreAnswered: net/http's Shutdown closes a
// connection whose first request head it reads after Shutdown began, without
// answering. Every connection accepted before the signal must be answered,
// whatever part of its request had arrived: none, part of the head, or the
// head and part of the body.
func TestRequestsOnNewConnectionsAreAnswered(t *testing.T) {
	r := start(t, testConfig())
	pollHealth(t, r.httpAddr)
	type inFlight struct {
		conn          net.Conn
		request, body string
		before        int
	}
	var open []inFlight
	for i := range 6 {
		body := fmt.Sprintf(`{"n":%d,"pad":"%s"}`, i, strings.Repeat("x", 900_000))
		head := fmt.Sprintf("POST /v1/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", len(body))
		before := []int{0, len(head) / 2, len(head) + 100_000}[i%3]
		conn, err := net.Dial("tcp", r.httpAddr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		if _, err := io.WriteString(conn, (head + body)[:before]); err != nil {
			t.Fatal(err)
		}
		open = append(open, inFlight{conn, head + body, body, before})
	}
	// Long enough for the server to accept every connection.
	time.Sleep(200 * time.Millisecond)
	r.cancel()
	waitClosed(t, r.httpAddr)
	time.Sleep(50 * time.Millisecond)

	var wg sync.WaitGroup
	for _, f := range open {
		wg.Go(func() {
			go io.WriteString(f.conn, f.request[f.before:])
			f.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(f.conn), nil)
			if err != nil {
				t.Errorf("%d bytes sent before the signal: %v", f.before, err)
				return
			}
			got, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusOK || string(got) != f.body {
				t.Errorf("%d bytes sent before the signal: status %d, %d bytes, %v", f.before, resp.StatusCode, len(got), err)
			}
		})
	}
	wg.Wait()
	if err := r.wait(t); err != nil {
		t.Fatalf("run = %v", err)
	}
}

func TestBindFailure(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	for _, cfg := range []config.Config{
		{HTTPAddr: taken.Addr().String(), GRPCAddr: "127.0.0.1:0"},
		{HTTPAddr: "127.0.0.1:0", GRPCAddr: taken.Addr().String()},
	} {
		var out strings.Builder
		err := run(t.Context(), cfg, nil, &out)
		if err == nil || out.Len() != 0 {
			t.Errorf("run(%+v) = %v, printed %q; want a bind error and no ready line", cfg, err, out.String())
		}
	}
}

var healthServices = []string{"", "lab.v1.UserService", "lab.v1.CatalogService", "lab.v1.OrderService", "lab.v1.EchoService"}

// fresh makes every request on a new connection, as a load balancer's
// health check or a new client would.
var fresh = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

func get(t *testing.T, method, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := fresh.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s %s: Content-Type %q", method, url, ct)
	}
	return resp.StatusCode, string(b)
}

func grpcHealth(t *testing.T, addr string) (*grpc.ClientConn, healthpb.HealthClient) {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn, healthpb.NewHealthClient(conn)
}

func checkHealth(t *testing.T, hc healthpb.HealthClient, want healthpb.HealthCheckResponse_ServingStatus) {
	t.Helper()
	for _, svc := range healthServices {
		hr, err := hc.Check(t.Context(), &healthpb.HealthCheckRequest{Service: svc})
		if err != nil || hr.Status != want {
			t.Fatalf("health %q: %v %v, want %v", svc, hr, err, want)
		}
	}
}

// TestDrainDelay follows the contract's drain order: readiness off at once,
// the listeners serving for --drain-delay, then closed, and a clean exit.
func TestDrainDelay(t *testing.T) {
	cfg := testConfig()
	cfg.DrainDelay = 1500 * time.Millisecond
	r := start(t, cfg)
	pollHealth(t, r.httpAddr)
	_, hc := grpcHealth(t, r.grpcAddr)
	checkHealth(t, hc, healthpb.HealthCheckResponse_SERVING)
	// A watch never ends by itself: cancelled before the drain waits for it.
	watchCtx, stopWatch := context.WithCancel(t.Context())
	watch, err := hc.Watch(watchCtx, &healthpb.HealthCheckRequest{Service: ""})
	if err != nil {
		t.Fatal(err)
	}
	if hr, err := watch.Recv(); err != nil || hr.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("watch: %v %v", hr, err)
	}

	began := time.Now()
	r.cancel()
	if hr, err := watch.Recv(); err != nil || hr.Status != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("watch after the signal: %v %v", hr, err)
	}
	stopWatch()
	status, body := get(t, "GET", "http://"+r.httpAddr+"/health")
	if status != 503 || body != `{"status":"draining"}` {
		t.Fatalf("GET /health while draining: %d %s", status, body)
	}
	if status, body := get(t, "HEAD", "http://"+r.httpAddr+"/health"); status != 503 || body != "" {
		t.Errorf("HEAD /health while draining: %d %q", status, body)
	}
	if status, body := get(t, "GET", "http://"+r.httpAddr+"/v1/users/1"); status != 200 || !strings.Contains(body, `"User 1"`) {
		t.Errorf("GET /v1/users/1 while draining: %d %s", status, body)
	}
	// New gRPC connections are still accepted and see NOT_SERVING.
	conn, hc2 := grpcHealth(t, r.grpcAddr)
	checkHealth(t, hc2, healthpb.HealthCheckResponse_NOT_SERVING)
	checkHealth(t, hc, healthpb.HealthCheckResponse_NOT_SERVING)
	if u, err := labv1.NewUserServiceClient(conn).GetUser(t.Context(), &labv1.GetUserRequest{Id: 1}); err != nil || u.Age != 63 {
		t.Errorf("GetUser while draining: %v %v", u, err)
	}
	for _, addr := range []string{r.httpAddr, r.grpcAddr} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("%s refused a connection during the delay: %v", addr, err)
		}
		c.Close()
	}
	if took := time.Since(began); took >= cfg.DrainDelay {
		t.Fatalf("the checks took %v, longer than the delay; they prove nothing", took)
	}

	waitClosed(t, r.httpAddr)
	waitClosed(t, r.grpcAddr)
	if took := time.Since(began); took < cfg.DrainDelay {
		t.Fatalf("listeners closed after %v, before the %v delay", took, cfg.DrainDelay)
	}
	if err := r.wait(t); err != nil {
		t.Fatalf("run = %v, want nil after a clean drain", err)
	}
}

// TestKeepAliveClosesAfterNextResponse: during the drain delay a keep-alive
// connection is closed after its next response, with Connection: close,
// rather than while idle when the listener closes, which would race the
// client's next request.
func TestKeepAliveClosesAfterNextResponse(t *testing.T) {
	cfg := testConfig()
	cfg.DrainDelay = time.Minute
	r := start(t, cfg)
	pollHealth(t, r.httpAddr)
	conn, err := net.Dial("tcp", r.httpAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	ask := func() *http.Response {
		t.Helper()
		io.WriteString(conn, "GET /v1/users/1 HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	if resp := ask(); resp.Close {
		t.Fatal("Connection: close before the drain")
	}
	r.cancel()
	draining := func() bool {
		_, body := get(t, http.MethodGet, "http://"+r.httpAddr+"/health")
		return strings.Contains(body, "draining")
	}
	for !draining() {
		time.Sleep(5 * time.Millisecond)
	}
	if resp := ask(); resp.StatusCode != http.StatusOK || !resp.Close {
		t.Fatalf("during the delay: status %d, close %v; want 200 with Connection: close", resp.StatusCode, resp.Close)
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := br.Read(make([]byte, 1)); n != 0 || err == nil {
		t.Fatalf("the connection stayed open after Connection: close: %d, %v", n, err)
	}
	r.skipDelay()
	if err := r.wait(t); err != nil {
		t.Fatalf("run = %v", err)
	}
}

// TestSecondSignalEndsDelay: a second signal closes the listeners at once.
func TestSecondSignalEndsDelay(t *testing.T) {
	cfg := testConfig()
	cfg.DrainDelay = time.Hour
	r := start(t, cfg)
	pollHealth(t, r.httpAddr)
	r.cancel()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if status, _ := get(t, "GET", "http://"+r.httpAddr+"/health"); status == 503 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("health never turned 503")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if c, err := net.Dial("tcp", r.httpAddr); err != nil {
		t.Fatalf("refused during the delay: %v", err)
	} else {
		c.Close()
	}
	r.skipDelay()
	waitClosed(t, r.httpAddr)
	waitClosed(t, r.grpcAddr)
	if err := r.wait(t); err != nil {
		t.Fatalf("run = %v, want nil after a clean drain", err)
	}
}

// TestSlowHeaders: a client that trickles its headers is cut off after
// --header-read-timeout without a response, and others are served meanwhile.
func TestSlowHeaders(t *testing.T) {
	cfg := testConfig()
	cfg.HeaderReadTimeout = 300 * time.Millisecond
	r := start(t, cfg)
	pollHealth(t, r.httpAddr)

	conn, err := net.Dial("tcp", r.httpAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	closed := make(chan []byte, 1)
	go func() {
		got, _ := io.ReadAll(conn)
		closed <- got
	}()
	began := time.Now()
	head := "GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: " + strings.Repeat("y", 100)
	for i := range len(head) {
		if _, err := io.WriteString(conn, head[i:i+1]); err != nil {
			break // closed by the server
		}
		select {
		case got := <-closed:
			if len(got) != 0 {
				t.Fatalf("got a response %q, want the connection closed without one", got)
			}
			if took := time.Since(began); took < cfg.HeaderReadTimeout || took > 5*time.Second {
				t.Fatalf("closed after %v, want about %v", took, cfg.HeaderReadTimeout)
			}
			return
		case <-time.After(50 * time.Millisecond):
		}
		if i%4 == 0 {
			pollHealth(t, r.httpAddr)
		}
	}
	t.Fatal("the slow client was never cut off")
}

// rawRequest sends each head as written (net/http's client adds fields of
// its own) on one connection, each after the previous response, and
// returns the last response.
func rawRequest(t *testing.T, addr string, heads ...string) (*http.Response, string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	var resp *http.Response
	var body []byte
	for _, head := range heads {
		if _, err := io.WriteString(conn, head); err != nil {
			t.Fatal(err)
		}
		if resp, err = http.ReadResponse(br, nil); err != nil {
			t.Fatalf("reading the response: %v", err)
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	return resp, string(body)
}

// headWithFields is a GET /health head of n fields, Host included.
func headWithFields(n int) string {
	var b strings.Builder
	b.WriteString("GET /health HTTP/1.1\r\nHost: x\r\n")
	for i := 1; i < n; i++ {
		fmt.Fprintf(&b, "X-Field-%d: %d\r\n", i, i)
	}
	b.WriteString("\r\n")
	return b.String()
}

// headOfSize is a GET /health head of exactly size bytes, request line and
// final blank line included.
func headOfSize(size int) string {
	const start, end = "GET /health HTTP/1.1\r\nHost: x\r\nX-Pad: ", "\r\n\r\n"
	return start + strings.Repeat("p", size-len(start)-len(end)) + end
}

func TestHeaderLimits(t *testing.T) {
	r := start(t, testConfig())
	pollHealth(t, r.httpAddr)
	tests := []struct {
		name   string
		head   string
		status int
	}{
		{"100 fields", headWithFields(100), 200},
		{"101 fields", headWithFields(101), 431},
		{"101 fields, repeated names", "GET /health HTTP/1.1\r\nHost: x\r\n" + strings.Repeat("X-Same: 1\r\n", 100) + "\r\n", 431},
		{"15 KiB head", headOfSize(15 << 10), 200},
		{"16 KiB head", headOfSize(16 << 10), 200},
		{"16 KiB + 1 head", headOfSize(16<<10 + 1), 431},
		{"17 KiB head", headOfSize(17 << 10), 431},
		{"32 KiB head", headOfSize(32 << 10), 431},
	}
	for _, tt := range tests {
		for _, reused := range []bool{false, true} {
			var resp *http.Response
			var body string
			if reused {
				// net/http's own limit is 4 KiB looser on a reused connection.
				resp, body = rawRequest(t, r.httpAddr, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n", tt.head)
			} else {
				resp, body = rawRequest(t, r.httpAddr, tt.head)
			}
			if resp.StatusCode != tt.status {
				t.Errorf("%s (reused %v): status %d, want %d", tt.name, reused, resp.StatusCode, tt.status)
			}
			if tt.status == 431 && !resp.Close {
				t.Errorf("%s (reused %v): the connection stays open", tt.name, reused)
			}
			// Too many fields is refused by go-svc itself, with hyper's empty
			// body; a head too large by net/http first if it can, with text.
			if strings.HasPrefix(tt.name, "101") && (body != "" || resp.ContentLength != 0) {
				t.Errorf("%s (reused %v): body %q (Content-Length %d), want empty", tt.name, reused, body, resp.ContentLength)
			}
		}
	}

	// hyper's max_headers is an HTTP/1 setting; h2c requests are not counted.
	req, err := http.NewRequest("GET", "http://"+r.httpAddr+"/health", nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 120 {
		req.Header.Set(fmt.Sprintf("X-Field-%d", i), "1")
	}
	if resp, err := h2cClient().Do(req); err != nil || resp.StatusCode != 200 {
		t.Errorf("h2c with 121 fields: %v %v, want 200", resp, err)
	} else {
		resp.Body.Close()
	}

	// Refused requests are not counted: hyper refuses them before the router.
	resp, err := http.Get("http://" + r.httpAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	metrics, _ := io.ReadAll(resp.Body)
	if strings.Contains(string(metrics), `status="431"`) {
		t.Error("metrics count 431 responses")
	}
}

// rawCodec sends a request's bytes as they are, so that a test can send
// what no generated client would.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return *v.(*[]byte), nil }
func (rawCodec) Unmarshal(b []byte, v any) error {
	*v.(*[]byte) = append([]byte(nil), b...)
	return nil
}
func (rawCodec) Name() string { return "proto" }

// echoRequest is an EchoRequest message of exactly size bytes: field 1 with
// a 4-byte length.
func echoRequest(size int) []byte {
	b := make([]byte, size)
	n := size - 5
	b[0] = 0x0a
	b[1], b[2], b[3], b[4] = byte(n|0x80), byte(n>>7|0x80), byte(n>>14|0x80), byte(n>>21)
	return b
}

// TestGRPCHostile sends the gRPC rows of the contract's "Limits and hostile
// input" table to the server as configured.
func TestGRPCHostile(t *testing.T) {
	r := start(t, testConfig())
	conn, err := grpc.NewClient(r.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(64<<20)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	tests := []struct {
		name, method string
		body         []byte
		code         codes.Code
	}{
		{"truncated varint", "/lab.v1.UserService/GetUser", []byte{0x08, 0xff}, codes.Internal},
		{"bad wire type", "/lab.v1.EchoService/Echo", []byte{0x0f, 0x01}, codes.Internal},
		{"length past the end", "/lab.v1.OrderService/CreateOrder", []byte{0x12, 0x10, 0x01}, codes.Internal},
		{"4 MiB message", "/lab.v1.EchoService/Echo", echoRequest(4 << 20), codes.OK},
		{"4 MiB + 1 message", "/lab.v1.EchoService/Echo", echoRequest(4<<20 + 1), codes.ResourceExhausted},
		{"unknown method", "/lab.v1.UserService/Nope", nil, codes.Unimplemented},
		{"unknown service", "/lab.v1.NopeService/GetUser", nil, codes.Unimplemented},
	}
	for _, tt := range tests {
		in, out := tt.body, []byte(nil)
		err := conn.Invoke(t.Context(), tt.method, &in, &out, grpc.ForceCodec(rawCodec{}))
		if got := status.Code(err); got != tt.code {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.code)
		}
	}
}
