package sip

import (
	"context"
	"fmt"
	"strings"

	"github.com/emiago/sipgo"
	sipmsg "github.com/emiago/sipgo/sip"
)

// This file sends our requests inside a dialog (BYE, re-INVITE, UPDATE):
// RFC 3261 §12.2.1.1 for their headers.

// prebuilt tells the stack the request is complete and must not be touched.
func prebuilt(*sipgo.Client, *sipmsg.Request) error { return nil }

// newRequest builds an in-dialog request with the next local CSeq.
func (c *call) newRequest(method sipmsg.RequestMethod) *sipmsg.Request {
	c.mu.Lock()
	if c.localCSeq == 0 {
		c.localCSeq = uint32(randomUint63()&0x7fff) + 1
	} else {
		c.localCSeq++
	}
	cseq := c.localCSeq
	target, dest := c.target, c.dest
	c.mu.Unlock()
	return c.buildRequest(method, cseq, target, dest)
}

func (c *call) buildRequest(method sipmsg.RequestMethod, cseq uint32, target sipmsg.Uri, dest string) *sipmsg.Request {
	req := sipmsg.NewRequest(method, *target.Clone())
	via := &sipmsg.ViaHeader{
		ProtocolName:    "SIP",
		ProtocolVersion: "2.0",
		Transport:       strings.ToUpper(c.transport),
		Host:            bracketHost(c.contactHost),
		Port:            int(c.s.addr.Port()),
		Params:          sipmsg.NewParams(),
	}
	via.Params.Add("branch", sipmsg.GenerateBranchN(16))
	via.Params.Add("rport", "")
	req.AppendHeader(via)
	maxFwd := sipmsg.MaxForwardsHeader(70)
	req.AppendHeader(&maxFwd)
	from := &sipmsg.FromHeader{Address: c.localURI, Params: sipmsg.NewParams()}
	from.Params.Add("tag", c.localTag)
	req.AppendHeader(from)
	to := &sipmsg.ToHeader{Address: c.remoteURI, Params: sipmsg.NewParams()}
	if c.remoteTag != "" {
		to.Params.Add("tag", c.remoteTag)
	}
	req.AppendHeader(to)
	callID := sipmsg.CallIDHeader(c.callID)
	req.AppendHeader(&callID)
	req.AppendHeader(&sipmsg.CSeqHeader{SeqNo: cseq, MethodName: method})
	for _, r := range c.routeSet {
		req.AppendHeader(&sipmsg.RouteHeader{Address: *r.Clone()})
	}
	if method != sipmsg.BYE && method != sipmsg.ACK {
		req.AppendHeader(c.contact())
	}
	req.AppendHeader(sipmsg.NewHeader("User-Agent", c.s.cfg.UserAgent))
	req.SetTransport(strings.ToUpper(c.transport))
	req.SetDestination(c.nextHop(dest))
	return req
}

// nextHop is where a request goes: the first loose route, else the peer's
// source address (symmetric signalling through NAT).
func (c *call) nextHop(dest string) string {
	if len(c.routeSet) > 0 {
		first := c.routeSet[0]
		port := first.Port
		if port == 0 {
			port = 5060
		}
		return hostPortString(first.Host, port)
	}
	return dest
}

func hostPortString(host string, port int) string {
	host = strings.Trim(host, "[]")
	if strings.Contains(host, ":") {
		return fmt.Sprintf("[%s]:%d", host, port)
	}
	return fmt.Sprintf("%s:%d", host, port)
}

// do sends req and waits for its final response.
func (c *call) do(ctx context.Context, req *sipmsg.Request) (*sipmsg.Response, error) {
	if req.ContentLength() == nil {
		req.SetBody(req.Body())
	}
	tx, err := c.s.client.TransactionRequest(ctx, req, prebuilt)
	if err != nil {
		return nil, fmt.Errorf("sending %s: %w", req.Method, err)
	}
	defer tx.Terminate()
	for {
		select {
		case res := <-tx.Responses():
			if res.IsProvisional() {
				continue
			}
			return res, nil
		case <-tx.Done():
			return nil, fmt.Errorf("%s transaction: %w", req.Method, tx.Err())
		case <-ctx.Done():
			return nil, fmt.Errorf("%s transaction: %w", req.Method, context.Cause(ctx))
		}
	}
}

// sendAck acknowledges a 2xx to our re-INVITE (a new transaction, §13.2.2.4).
func (c *call) sendAck(invite *sipmsg.Request, res *sipmsg.Response) error {
	c.mu.Lock()
	target, dest := c.target, c.dest
	c.mu.Unlock()
	ack := c.buildRequest(sipmsg.ACK, invite.CSeq().SeqNo, target, dest)
	ack.SetBody(nil)
	if err := c.s.client.WriteRequest(ack, prebuilt); err != nil {
		return fmt.Errorf("sending ACK: %w", err)
	}
	return nil
}

// bracketHost puts IPv6 literals in brackets for URIs and Via.
func bracketHost(h string) string {
	if strings.Contains(h, ":") && !strings.HasPrefix(h, "[") {
		return "[" + h + "]"
	}
	return h
}
