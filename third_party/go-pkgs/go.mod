module github.com/tadglines/go-pkgs

go 1.21
