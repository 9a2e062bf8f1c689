import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiProperty, ApiTags } from '@nestjs/swagger';
import pkg from '../package.json';
import { Public } from './auth/decorators/public.decorator';

class ServiceInfo {
  @ApiProperty({ example: pkg.name, maxLength: pkg.name.length })
  name!: string;

  @ApiProperty({ example: pkg.version, maxLength: pkg.version.length })
  version!: string;
}

const INFO: ServiceInfo = { name: pkg.name, version: pkg.version };

@ApiTags('operations')
@Controller('api')
export class AppController {
  /** No I/O: the baseline every benchmark compares against. */
  @Public()
  @Get()
  @ApiOkResponse({ type: ServiceInfo })
  info(): ServiceInfo {
    return INFO;
  }
}
