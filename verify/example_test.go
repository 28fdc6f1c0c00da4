package verify_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"

	"github.com/latchauth/latch/verify"
)

func ExampleNew() {
	ctx := context.Background()
	v, err := verify.New(ctx, "https://auth.example.com", verify.Options{
		Audience: []string{"https://api.example.com"},
	})
	if err != nil {
		log.Fatal(err) // errors.Is(err, verify.ErrUnavailable): latch unreachable, retry
	}
	claims, err := v.Verify(ctx, "eyJhbGciOiJFUzI1NiIs...")
	switch {
	case errors.Is(err, verify.ErrInvalidToken):
		fmt.Println("refused:", err)
	case err != nil:
		fmt.Println("cannot check now:", err)
	default:
		fmt.Println("user", claims.Subject)
	}
}

func ExampleVerifier_Middleware() {
	v, err := verify.New(context.Background(), "https://auth.example.com", verify.Options{
		Audience: []string{"https://api.example.com"},
	})
	if err != nil {
		log.Fatal(err)
	}
	me := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := verify.ClaimsFrom(r.Context())
		fmt.Fprintf(w, "hello %s\n", c.Email)
	})
	mux := http.NewServeMux()
	mux.Handle("GET /me", v.Middleware(me))
	mux.Handle("DELETE /things/{id}", v.Middleware(verify.RequireScope("write:things")(me)))
	mux.Handle("POST /payouts", v.Middleware(verify.RequireAAL("aal2")(me)))
	log.Fatal(http.ListenAndServe("127.0.0.1:9090", mux))
}
