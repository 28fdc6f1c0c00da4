package main
import (
 _ "golang.org/x/crypto/argon2"
 _ "golang.org/x/crypto/bcrypt"
 _ "golang.org/x/text/unicode/norm"
 _ "modernc.org/sqlite"
 _ "github.com/jackc/pgx/v5/pgxpool"
 _ "github.com/jackc/pgx/v5/stdlib"
 _ "github.com/pressly/goose/v3"
 _ "github.com/go-jose/go-jose/v4"
 _ "github.com/prometheus/client_golang/prometheus"
 _ "github.com/spf13/cobra"
 _ "github.com/google/uuid"
 _ "github.com/google/go-cmp/cmp"
 _ "go.yaml.in/yaml/v3"
 _ "github.com/lestrrat-go/jwx/v3/jwt"
)
func main(){}
