module vakt

go 1.25.0
