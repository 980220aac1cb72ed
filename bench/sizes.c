/* C state per idle TCP session: the flow plus its tracker state. */
#include <stdio.h>
#include "flow.h"
#include "tcp.h"

int main(void)
{
    printf("%zu %zu %zu\n", sizeof(lt_flow), sizeof(lt_tcp_conn), sizeof(lt_flow) + sizeof(lt_tcp_conn));
    return 0;
}
