package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// apiClient talks to the server's REST API and /metrics.
type apiClient struct {
	base  string // http://host:port
	http  *http.Client
	token string
}

func newAPIClient(hostport string) *apiClient {
	return &apiClient{base: "http://" + hostport, http: &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 2, IdleConnTimeout: 30 * time.Second},
	}}
}

// close releases the client's idle connections (and their goroutines).
func (c *apiClient) close() {
	c.http.CloseIdleConnections()
}

// login obtains a bearer token for the admin user.
func (c *apiClient) login(ctx context.Context, password string) error {
	var out struct {
		Token string `json:"token"`
	}
	in := map[string]string{"username": "admin", "password": password}
	if err := c.do(ctx, http.MethodPost, "/api/v1/auth/token", in, &out); err != nil {
		return fmt.Errorf("logging in as admin: %w", err)
	}
	if out.Token == "" {
		return fmt.Errorf("logging in as admin: empty token: %w", ErrAPI)
	}
	c.token = out.Token
	return nil
}

// createConference creates conference id; one that already exists is fine.
func (c *apiClient) createConference(ctx context.Context, id string) error {
	in := map[string]string{"id": id, "name": "roomload " + id}
	err := c.do(ctx, http.MethodPost, "/api/v1/conferences", in, nil)
	if se := (*statusError)(nil); errors.As(err, &se) && se.status == http.StatusConflict {
		return nil
	}
	if err != nil {
		return fmt.Errorf("creating conference %s: %w", id, err)
	}
	return nil
}

type statusError struct {
	status int
	body   string
}

// Error implements error.
// Error implements error.
func (e *statusError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.status, e.body) }

// Unwrap makes errors.Is(err, ErrAPI) true.
func (e *statusError) Unwrap() error { return ErrAPI }

func (c *apiClient) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encoding request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return fmt.Errorf("building %s %s: %w", method, path, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("reading %s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		return &statusError{status: resp.StatusCode, body: string(bytes.TrimSpace(b))}
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("decoding %s %s: %w", method, path, err)
		}
	}
	return nil
}

// scrape fetches and parses /metrics.
func (c *apiClient) scrape(ctx context.Context) ([]Sample, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/metrics", nil)
	if err != nil {
		return nil, fmt.Errorf("building metrics request: %w", err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scraping %s/metrics: %w", c.base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scraping %s/metrics: %w", c.base, &statusError{status: resp.StatusCode})
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("reading %s/metrics: %w", c.base, err)
	}
	s, err := ParseMetrics(b)
	if err != nil {
		return nil, fmt.Errorf("scraping %s/metrics: %w", c.base, err)
	}
	return s, nil
}
