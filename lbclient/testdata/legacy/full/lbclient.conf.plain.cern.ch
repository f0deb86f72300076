check nologin
check swapping
